"""Flask CLI commands: ``flask --app wsgi seed-demo`` and friends."""
from __future__ import annotations

import click
from flask import Flask


def init_app(app: Flask) -> None:
    @app.cli.command("migrate")
    def migrate_cmd():
        """Upgrade the database to the latest Alembic revision."""
        from app.migrate import upgrade

        upgrade(app.config["DATABASE_URL"])
        click.echo("database at head")

    @app.cli.command("seed-demo")
    def seed_demo_cmd():
        """Load the demo city, units, users, vehicles and drivers (idempotent)."""
        from app import db, seed

        seed.seed_demo(db.session)
        db.session.commit()
        click.echo("demo data loaded")
