"""Alembic environment: migrates over the connection that storage.database.Database hands in."""

from alembic import context

from storage.models import Base

config = context.config
target_metadata = Base.metadata

# No logging.config.fileConfig here: the bot configures logging, and migrations run inside it.


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through storage.database.Database.upgrade()")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite can alter little in place; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; use Database.upgrade()")
run_migrations_online()
