"""Flask CLI commands: ``flask --app wsgi seed-demo`` and friends."""
from __future__ import annotations

import sys

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
        """Load the demo city, units, users, vehicles, drivers and last month's trips
        (idempotent)."""
        from app import db, demo_history

        demo_history.seed_demo_with_history(db.session)
        db.session.commit()
        click.echo("demo data loaded")

    @app.cli.command("export-settlements")
    @click.option("--period", required=True, help="结算期间 YYYY-MM, e.g. 2026-10")
    @click.option("--format", "fmt", type=click.Choice(["xlsx", "csv"]), default="xlsx",
                  show_default=True)
    @click.option("--out", "out_dir", type=click.Path(file_okay=False), default=".",
                  show_default=True, help="directory to write the file into")
    def export_settlements_cmd(period, fmt, out_dir):
        """Export every statement of a period into one file (a sheet per supplier)."""
        from pathlib import Path

        from app import db
        from app.errors import ValidationFailed
        from app.settlements import service

        try:
            service.period_bounds(period)
        except ValidationFailed as exc:
            raise click.BadParameter(exc.message, param_hint="--period") from None
        statements = [s.id for s in service.statements_of(db.session, period)]
        if not statements:
            raise click.ClickException(f"{period} 没有结算单，请先生成")
        target = Path(out_dir)
        target.mkdir(parents=True, exist_ok=True)
        path = target / service.export_filename(period, fmt)
        total = service.line_count(db.session, statements)
        with click.progressbar(length=total, label=f"导出 {path.name}",
                               file=sys.stderr) as bar:
            done = [0]

            def progress(rows: int) -> None:
                bar.update(rows - done[0])
                done[0] = rows

            result = service.export(db.session, statements, path, fmt=fmt, progress=progress)
        click.echo(f"{path}: {result.rows} 行, 合计 {result.total:.2f} 元, "
                   f"{len(result.suppliers)} 个供应商")
