"""One engine and session factory per process, and the in-process migration on start."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Plain backends are accepted for convenience and mapped to the async driver we ship.
_ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}

# Any fixed number works; it only has to be the same for every Stegvis process.
_MIGRATION_LOCK_ID = 0x5374_6567_7669_73  # "Stegvis"

_SQLITE_PRAGMAS = (
    # busy_timeout first, so that switching to WAL waits for another process instead of failing.
    "PRAGMA busy_timeout=5000",
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)


def _async_url(raw: str) -> URL:
    # Never echo the URL back: it may carry a password.
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError):
        raise ValueError(
            "STEGVIS_DATABASE_URL is not a database URL; expected e.g. "
            "sqlite+aiosqlite:///data/stegvis.db or postgresql+asyncpg://user@host/stegvis"
        ) from None
    backend, _, driver = url.drivername.partition("+")
    backend = "postgresql" if backend == "postgres" else backend
    wanted = _ASYNC_DRIVERS.get(backend)
    if wanted is None or driver not in ("", wanted):
        raise ValueError(
            f"STEGVIS_DATABASE_URL uses {url.drivername!r}, which Stegvis does not support; "
            "use sqlite+aiosqlite:// or postgresql+asyncpg://"
        )
    return url.set(drivername=f"{backend}+{wanted}")


def _is_sqlite_file(url: URL) -> bool:
    database = url.database or ""
    return database not in ("", ":memory:") and not database.startswith("file:")


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _run_alembic_upgrade(connection: Connection) -> None:
    config = Config()
    # Config values go through ConfigParser interpolation, which would choke on a "%" in the path.
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


class Database:
    """The engine and session factory for one database URL."""

    def __init__(
        self,
        url: str,
        *,
        connect_args: Mapping[str, Any] | None = None,
        **engine_kwargs: Any,
    ) -> None:
        async_url = _async_url(url)
        if async_url.get_backend_name() == "sqlite" and _is_sqlite_file(async_url):
            Path(async_url.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine: AsyncEngine = create_async_engine(
            async_url, connect_args=dict(connect_args or {}), **engine_kwargs
        )
        if self.dialect == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _set_sqlite_pragmas)
        self.sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def upgrade(self) -> None:
        """Create the schema, or bring it up to the newest migration; harmless when up to date."""
        async with self.engine.begin() as conn:
            if self.dialect == "sqlite":
                # IMMEDIATE takes the write lock up front, so a second process waits instead of
                # migrating too. Without an explicit BEGIN the sqlite3 driver would also commit
                # each DDL statement on its own, leaving a half-built schema if a migration fails.
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
            elif self.dialect == "postgresql":
                # Held until commit, so a second process waits instead of migrating too.
                await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_ID})")
            await conn.run_sync(_run_alembic_upgrade)

    async def dispose(self) -> None:
        await self.engine.dispose()
