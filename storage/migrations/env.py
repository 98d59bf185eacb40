"""Alembic environment: migrates over the connection Database.upgrade() hands in or, from the
``alembic -c storage/alembic.ini`` command line, over its own connection to STEGVIS_DATABASE_URL."""

import asyncio
import os
from logging.config import fileConfig

from alembic import context
from alembic.util import CommandError
from sqlalchemy import Connection

from storage.database import DEFAULT_DATABASE_URL, Database, DatabaseError
from storage.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite can alter little in place; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_from_command_line() -> None:
    # The same engine, pragmas and migration lock as Stegvis itself, so the command line compares
    # and migrates exactly what `stegvis` would; run_sync hands Alembic a sync connection.
    database = Database(os.environ.get("STEGVIS_DATABASE_URL", DEFAULT_DATABASE_URL))
    try:
        await database.with_migration_lock(run_migrations)
    finally:
        await database.dispose()


if context.is_offline_mode():
    raise CommandError("offline (--sql) migrations are not supported; run them against a database")

handed_in = config.attributes.get("connection")
if handed_in is not None:
    # No logging set-up here: the bot configures logging, and migrations run inside it.
    run_migrations(handed_in)
else:
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    try:
        asyncio.run(run_from_command_line())
    except DatabaseError as error:
        # Alembic's command line prints a CommandError as one line instead of a traceback.
        raise CommandError(str(error)) from None
