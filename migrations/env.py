"""Alembic environment: the app's metadata, batch mode for SQLite, our column types rendered plainly."""
from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import engine_from_config, pool
from sqlalchemy.types import TypeDecorator

from app.models import metadata

config = context.config
if config.config_file_name is not None and not config.attributes.get("skip_logging"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)
if os.environ.get("DATABASE_URL") and not config.attributes.get("keep_url"):
    config.set_main_option("sqlalchemy.url", os.environ["DATABASE_URL"].replace("%", "%%"))


def render_item(type_, obj, autogen_context):
    """Render app.db's TypeDecorators as their SQL types so migrations import only sqlalchemy."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        impl = obj.impl_instance if hasattr(obj, "impl_instance") else obj.impl
        return f"sa.{impl!r}"
    return False


OPTIONS = dict(target_metadata=metadata, render_as_batch=True, compare_type=True,
               render_item=render_item)


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True, **OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(connection=connectable, **OPTIONS)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(config.get_section(config.config_ini_section, {}),
                                prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, **OPTIONS)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
