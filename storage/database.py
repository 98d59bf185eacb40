"""One engine and session factory per process, the schema check on start, and database errors as one line.

Every error this module raises is a ``DatabaseError`` whose ``str()`` is one line naming what to
fix (``STEGVIS_DATABASE_URL``, a path, a host:port) and never a password.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/stegvis.sqlite3"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# The newest migration, known without importing Alembic (which costs more than a second on every
# command). tests/test_database.py checks it against Alembic's own idea of the head, so a new
# migration that forgets to raise it fails the tests.
HEAD_REVISION = "0012"

# Plain backends are accepted for convenience and mapped to the async driver we ship.
_ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}
# Other names for a driver we ship; psycopg and the like are not installed.
_SAME_DRIVER = {"sqlite": {"", "aiosqlite", "pysqlite"}, "postgresql": {"", "asyncpg"}}

# Any fixed number works; it only has to be the same for every Stegvis process.
_MIGRATION_LOCK_ID = 0x5374_6567_7669_73  # "Stegvis"

# Long enough that a writer waits out another process's short transaction (an appointment import,
# a migration on start) instead of failing with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 15_000

_SQLITE_PRAGMAS = (
    # busy_timeout first, so that switching to WAL waits for another process instead of failing.
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
    # In WAL mode readers and the one writer do not block each other, so the bot, its sender and
    # an admin command can share the file; only two writers take turns (see busy_timeout).
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)

_FIX_URL = "STEGVIS_DATABASE_URL"


class DatabaseError(Exception):
    """A database Stegvis cannot use; str() is one line naming what to fix, never a password."""


class UnsupportedDatabaseURL(DatabaseError, ValueError):
    """STEGVIS_DATABASE_URL is not a URL, or names a database or driver Stegvis does not ship."""


class DatabasePathError(DatabaseError):
    """The SQLite file cannot be created or opened at its path."""


class DatabaseMissing(DatabaseError):
    """No database where the URL points: no SQLite file (and none to be created), or no such PostgreSQL database."""


class DatabaseUnreachable(DatabaseError):
    """The PostgreSQL server refuses connections, does not answer, or its host is unknown."""


class DatabaseLoginRefused(DatabaseError):
    """The PostgreSQL server is there but refuses the user (or password) in the URL."""


class SchemaTooNew(DatabaseError):
    """The database was migrated by a newer Stegvis than this one."""


def mask_url(raw: str) -> str:
    """The URL as it may be shown: any password replaced by ***, also in strings that do not parse."""
    # Not make_url(...).render_as_string(hide_password=True): given a password with an "@" in it,
    # the parser takes the rest of the password for the host and shows it. Conservatively,
    # everything between the user name and the last "@" counts as the password.
    userinfo, at, rest = raw.rpartition("@")
    if not at:
        return raw
    scheme, sep, userinfo = userinfo.partition("://")
    if not sep:
        scheme, userinfo = "", scheme
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}{sep}{user}{':***' if colon else ''}@{rest}"


def parse_url(raw: str) -> URL:
    """The URL with the async driver Stegvis uses for its backend; raises UnsupportedDatabaseURL."""
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError, TypeError):
        # From None: the parser's own message may quote the URL, password and all.
        raise UnsupportedDatabaseURL(
            f"{_FIX_URL} is not a database URL; expected e.g. "
            "sqlite+aiosqlite:///data/stegvis.db or postgresql+asyncpg://user@host/stegvis"
        ) from None
    backend, _, driver = url.drivername.partition("+")
    backend = "postgresql" if backend == "postgres" else backend
    if driver not in _SAME_DRIVER.get(backend, ()):
        raise UnsupportedDatabaseURL(
            f"{_FIX_URL} uses {url.drivername!r}, which Stegvis does not support; "
            "use sqlite+aiosqlite:// or postgresql+asyncpg://"
        )
    return url.set(drivername=f"{backend}+{_ASYNC_DRIVERS[backend]}")


def _sqlite_path(url: URL) -> Path | None:
    """The file of a SQLite URL, or None for an in-memory database or a file: URI."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(os.path.abspath(database))


def _create_private_file(path: Path) -> None:
    """An empty SQLite file readable only by its owner; SQLite gives -wal and -shm the same mode."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError as error:
        if error.filename is not None and Path(error.filename) == path:
            return  # another process created it meanwhile
        raise DatabasePathError(
            f"cannot create the database at {path}: {error.filename} is not a folder; "
            f"fix the path in {_FIX_URL}"
        ) from None
    except OSError as error:
        raise DatabasePathError(
            f"cannot create the database at {path} ({(error.strerror or str(error)).lower()}); "
            f"fix the path in {_FIX_URL}"
        ) from None


def _check_usable(path: Path) -> None:
    # Checked here rather than left to SQLite: when aiosqlite fails to open a file, its worker
    # thread can outlive the event loop and print a traceback after the one-line error.
    if path.is_dir():
        raise DatabasePathError(f"{path} is a folder, not a database file; fix the path in {_FIX_URL}")
    if not os.access(path, os.R_OK | os.W_OK):
        raise DatabasePathError(
            f"cannot read and write the database at {path}; check the file's owner and "
            f"permissions, or fix the path in {_FIX_URL}"
        )


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _run_alembic_upgrade(connection: Connection) -> None:
    # Imported here: Alembic is only needed when the schema is behind (see ensure_schema).
    from alembic import command
    from alembic.config import Config
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    config = Config()
    # Config values go through ConfigParser interpolation, which would choke on a "%" in the path.
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    current = MigrationContext.configure(connection).get_current_revision()
    try:
        ScriptDirectory.from_config(config).get_revision(current)
    except CommandError:
        raise SchemaTooNew(
            f"the database is at schema revision {current!r}, which this Stegvis does not know "
            f"(its newest is {HEAD_REVISION!r}); run the newer Stegvis that migrated it, "
            f"or check {_FIX_URL}"
        ) from None
    command.upgrade(config, "head")


class Database:
    """The engine and session factory for one database URL.

    ``create=False`` opens an existing SQLite file only: a mistyped path raises DatabaseMissing
    instead of leaving a new, empty database behind. PostgreSQL databases are never created.
    """

    def __init__(
        self,
        url: str,
        *,
        create: bool = True,
        connect_args: Mapping[str, Any] | None = None,
        **engine_kwargs: Any,
    ) -> None:
        async_url = parse_url(url)
        self.url = async_url
        self.path = _sqlite_path(async_url)
        if self.path is not None:
            if create:
                _create_private_file(self.path)
            elif not self.path.exists():
                raise DatabaseMissing(f"no database at {self.path}; check the path in {_FIX_URL}")
            _check_usable(self.path)
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

    async def ensure_schema(self) -> None:
        """Bring the schema up to date; when it already is, this costs one query and no Alembic."""
        async with self._connect() as conn:
            try:
                current = (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).scalar()
            except DBAPIError:
                # Most likely no schema yet; the upgrade reports anything else.
                current = None
        if current != HEAD_REVISION:
            await self.upgrade()

    async def upgrade(self) -> None:
        """Create the schema, or bring it up to the newest migration; harmless when up to date."""
        await self.with_migration_lock(_run_alembic_upgrade)

    async def with_migration_lock(self, run: Callable[[Connection], None]) -> None:
        """Run ``run`` (Alembic's work) on one connection, in one transaction that holds the migration lock."""
        async with self._connect() as conn, conn.begin():
            if self.dialect == "sqlite":
                # IMMEDIATE takes the write lock up front, so a second process waits instead of
                # migrating too. Without an explicit BEGIN the sqlite3 driver would also commit
                # each DDL statement on its own, leaving a half-built schema if a migration fails.
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
            elif self.dialect == "postgresql":
                # Held until commit, so a second process waits instead of migrating too.
                await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_ID})")
            await conn.run_sync(run)

    async def dispose(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[AsyncConnection]:
        """A connection; failing to get one raises a DatabaseError that says what to fix."""
        try:
            conn = await self.engine.connect().start()
        except (OSError, DBAPIError) as error:
            explained = self._explain(error)
            if explained is None:
                raise
            raise explained from error
        try:
            yield conn
        finally:
            await conn.close()

    def _explain(self, error: OSError | DBAPIError) -> DatabaseError | None:
        orig = getattr(error, "orig", None)
        if self.path is not None:
            if not isinstance(orig, sqlite3.DatabaseError):
                return None
            reason = str(orig)
            if "not a database" in reason:
                return DatabasePathError(f"{self.path} is not a SQLite database; fix the path in {_FIX_URL}")
            if "unable to open" in reason or "readonly" in reason:
                return DatabasePathError(
                    f"cannot open the database at {self.path} ({reason}); "
                    f"check the path in {_FIX_URL} and the file's permissions"
                )
            return None
        if self.dialect != "postgresql":
            return None
        where = f"{self.url.host or 'localhost'}:{self.url.port or 5432}"
        fix = f"start it, or fix the host and port in {_FIX_URL}"
        if isinstance(error, ConnectionRefusedError):
            return DatabaseUnreachable(f"PostgreSQL at {where} refuses connections; {fix}")
        if isinstance(error, TimeoutError):
            return DatabaseUnreachable(f"PostgreSQL at {where} does not answer; {fix}")
        if isinstance(error, OSError):
            reason = (error.strerror or str(error)).lower()
            return DatabaseUnreachable(f"cannot reach PostgreSQL at {where} ({reason}); {fix}")
        # asyncpg's SQLSTATE: no such database, and the two ways a login is refused.
        sqlstate = getattr(orig, "sqlstate", None)
        if sqlstate == "3D000":
            name = self.url.database
            return DatabaseMissing(
                f"PostgreSQL at {where} has no database {name!r}; create it (createdb {name}) "
                f"or fix the name in {_FIX_URL}"
            )
        if sqlstate in ("28000", "28P01"):
            return DatabaseLoginRefused(
                f"PostgreSQL at {where} refused the login ({str(orig).splitlines()[0]}); "
                f"fix the user and password in {_FIX_URL}"
            )
        return None
