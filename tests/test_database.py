"""Opening a database: one clear line for each bad URL, path or server, private files, the cheap schema check, and Alembic's command line."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.clock import SYSTEM_CLOCK
from storage import repositories as repo
from storage.database import (
    HEAD_REVISION,
    MIGRATIONS,
    SQLITE_BUSY_TIMEOUT_MS,
    Database,
    DatabaseError,
    DatabaseLoginRefused,
    DatabaseMissing,
    DatabasePathError,
    DatabaseUnreachable,
    SchemaTooNew,
    UnsupportedDatabaseURL,
    mask_url,
)
from tests.conftest import POSTGRES_URL
from tests.harness import free_port

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "hunter2"


def _one_clean_line(error: DatabaseError) -> str:
    message = str(error)
    assert message and "\n" not in message and "Traceback" not in message
    assert PASSWORD not in message
    return message


def _sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def _schema_error(url: str, expected: type[DatabaseError], **options: bool) -> str:
    """The one line that ensure_schema() raises for this URL."""
    database = Database(url, **options)
    try:
        with pytest.raises(expected) as raised:
            await database.ensure_schema()
    finally:
        await database.dispose()
    return _one_clean_line(raised.value)


# URLs


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("mysql://admin:hunter2@db.example/stegvis", "mysql://admin:***@db.example/stegvis"),
        ("postgresql+asyncpg://admin:hunter2@db:5432/stegvis", "postgresql+asyncpg://admin:***@db:5432/stegvis"),
        # These do not parse (a port that is not a number, no scheme), and are masked all the same.
        ("postgresql://admin:hunter2@db:port/stegvis", "postgresql://admin:***@db:port/stegvis"),
        ("admin:hunter2@db.example/stegvis", "admin:***@db.example/stegvis"),
        ("postgresql://admin:hun@ter2@db/stegvis", "postgresql://admin:***@db/stegvis"),
        ("sqlite:///var/stegvis.sqlite3", "sqlite:///var/stegvis.sqlite3"),
        ("not a url", "not a url"),
    ],
)
def test_mask_url_hides_the_password_whether_or_not_the_url_parses(raw: str, shown: str) -> None:
    assert mask_url(raw) == shown


@pytest.mark.parametrize(
    "url",
    [
        "mysql://admin:hunter2@db.example/stegvis",
        "postgresql+psycopg2://admin:hunter2@db.example/stegvis",
        "postgresql+psycopg://admin:hunter2@db.example/stegvis",
        "oracle://admin:hunter2@db.example/stegvis",
        "postgresql://admin:hunter2@db.example:port/stegvis",
    ],
)
def test_an_unsupported_url_is_named_without_its_password(url: str) -> None:
    with pytest.raises(UnsupportedDatabaseURL) as raised:
        Database(url)
    assert "STEGVIS_DATABASE_URL" in _one_clean_line(raised.value)


@pytest.mark.parametrize("url", ["sqlite:///{path}", "sqlite+pysqlite:///{path}", "sqlite+aiosqlite:///{path}"])
def test_every_name_of_the_sqlite_driver_maps_to_aiosqlite(tmp_path: Path, url: str) -> None:
    database = Database(url.format(path=tmp_path / "stegvis.sqlite3"))
    assert database.engine.url.drivername == "sqlite+aiosqlite"


# SQLite paths


@pytest.mark.parametrize("blocker", ["/dev/null", "a-file"])
def test_a_path_under_a_file_gets_a_path_error_naming_both(tmp_path: Path, blocker: str) -> None:
    # Fails even for root, unlike a folder without write permission.
    parent = Path(blocker) if blocker.startswith("/") else tmp_path / blocker
    if not parent.exists():
        parent.write_text("not a folder")
    path = parent / "x.sqlite3"

    with pytest.raises(DatabasePathError) as raised:
        Database(_sqlite_url(path))

    message = _one_clean_line(raised.value)
    assert message == f"cannot create the database at {path}: {parent} is not a folder; fix the path in STEGVIS_DATABASE_URL"


def test_without_create_a_mistyped_path_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "tpyo" / "stegvis.sqlite3"

    with pytest.raises(DatabaseMissing) as raised:
        Database(_sqlite_url(path), create=False)

    assert _one_clean_line(raised.value) == f"no database at {path}; check the path in STEGVIS_DATABASE_URL"
    assert list(tmp_path.iterdir()) == []


def test_a_relative_path_is_named_as_the_file_it_looked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatabaseMissing, match=f"^no database at {tmp_path}/var/stegvis.sqlite3;"):
        Database("sqlite:///./var/stegvis.sqlite3", create=False)
    assert list(tmp_path.iterdir()) == []


async def test_without_create_an_existing_database_opens(tmp_path: Path) -> None:
    path = tmp_path / "stegvis.sqlite3"
    created = Database(_sqlite_url(path))
    await created.ensure_schema()
    async with created.sessions.begin() as session:
        await repo.add_caseworker(session, "Karin", now=SYSTEM_CLOCK.now())
    await created.dispose()

    database = Database(_sqlite_url(path), create=False)
    try:
        await database.ensure_schema()
        async with database.sessions() as session:
            assert await session.scalar(text("SELECT name FROM caseworkers")) == "Karin"
    finally:
        await database.dispose()


async def test_a_file_that_is_not_sqlite_gets_a_path_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("Karin's notes, not a database. " * 100)
    message = await _schema_error(_sqlite_url(path), DatabasePathError, create=False)
    assert message == f"{path} is not a SQLite database; fix the path in STEGVIS_DATABASE_URL"


@pytest.mark.parametrize("create", [True, False])
def test_a_folder_where_the_file_should_be_gets_a_path_error(tmp_path: Path, create: bool) -> None:
    with pytest.raises(DatabasePathError) as raised:
        Database(_sqlite_url(tmp_path), create=create)
    assert _one_clean_line(raised.value) == f"{tmp_path} is a folder, not a database file; fix the path in STEGVIS_DATABASE_URL"


def test_a_file_stegvis_may_not_write_gets_a_path_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "stegvis.sqlite3"
    path.touch(mode=0o400)
    # Tests run as root, for whom every file is writable; this is what another user would get.
    monkeypatch.setattr(os, "access", lambda checked, mode: Path(checked) != path)
    with pytest.raises(DatabasePathError) as raised:
        Database(_sqlite_url(path), create=False)
    assert _one_clean_line(raised.value) == (
        f"cannot read and write the database at {path}; check the file's owner and permissions, "
        "or fix the path in STEGVIS_DATABASE_URL"
    )


async def test_database_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "new" / "stegvis.sqlite3"
    database = Database(_sqlite_url(path))
    try:
        await database.ensure_schema()
        # -wal and -shm exist while a connection is open; SQLite removes them on the last close.
        async with database.engine.connect() as conn:
            await conn.execute(text("SELECT count(*) FROM participants"))
            modes = {p.name: p.stat().st_mode & 0o777 for p in path.parent.iterdir()}
    finally:
        await database.dispose()
    assert modes == {"stegvis.sqlite3": 0o600, "stegvis.sqlite3-wal": 0o600, "stegvis.sqlite3-shm": 0o600}


async def test_a_writer_waits_for_another_process_short_transaction(tmp_path: Path) -> None:
    path = tmp_path / "stegvis.sqlite3"
    database = Database(_sqlite_url(path))
    await database.ensure_schema()
    assert SQLITE_BUSY_TIMEOUT_MS >= 15_000
    holding = threading.Event()

    def import_elsewhere() -> None:
        # Another process's import: holds the write lock for a moment, then commits.
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO caseworkers (name, created_at) VALUES ('Olle', '2025-01-01 00:00:00')")
        holding.set()
        time.sleep(1)
        other.execute("COMMIT")
        other.close()

    thread = threading.Thread(target=import_elsewhere)
    thread.start()
    try:
        holding.wait(5)
        async with database.sessions.begin() as session:
            await repo.add_caseworker(session, "Karin", now=SYSTEM_CLOCK.now())
        async with database.sessions() as session:
            names = (await session.scalars(text("SELECT name FROM caseworkers ORDER BY id"))).all()
        async with database.engine.connect() as conn:
            journal = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
    finally:
        thread.join()
        await database.dispose()
    assert names == ["Olle", "Karin"]
    assert journal == "wal"


# The schema check


def test_head_revision_is_alembics_head() -> None:
    assert ScriptDirectory(str(MIGRATIONS)).get_current_head() == HEAD_REVISION


async def test_an_up_to_date_schema_costs_one_query(database: Database) -> None:
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        await database.ensure_schema()
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)
    assert statements == ["SELECT version_num FROM alembic_version"]


def test_an_up_to_date_schema_is_checked_without_importing_alembic(tmp_path: Path) -> None:
    url = _sqlite_url(tmp_path / "stegvis.sqlite3")
    script = (
        "import asyncio, sys\n"
        "from storage.database import Database\n"
        "async def main():\n"
        "    database = Database(sys.argv[1])\n"
        "    await database.ensure_schema()\n"
        "    await database.dispose()\n"
        "    print('alembic' in sys.modules)\n"
        "asyncio.run(main())\n"
    )
    # The first run creates the schema, so it needs Alembic; the second must not.
    runs = [subprocess.run([sys.executable, "-c", script, url], capture_output=True, text=True, cwd=ROOT, timeout=60) for _ in range(2)]
    assert [run.stdout for run in runs] == ["True\n", "False\n"], [run.stderr for run in runs]


@asynccontextmanager
async def _empty(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    """A database with no schema at all: a new SQLite file, or a new PostgreSQL schema."""
    if backend == "sqlite":
        database = Database(_sqlite_url(tmp_path / "stegvis.sqlite3"))
        try:
            yield database
        finally:
            await database.dispose()
        return
    schema = f"e_{uuid.uuid4().hex}"
    async with _postgres_admin() as admin:
        await admin.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        database = Database(POSTGRES_URL, connect_args={"server_settings": {"search_path": schema}})
        try:
            yield database
        finally:
            await database.dispose()
            await admin.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


@asynccontextmanager
async def _postgres_admin() -> AsyncIterator[AsyncConnection]:
    """A connection to the test server, or the test skipped with the reason."""
    admin = Database(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        try:
            async with asyncio.timeout(2):
                conn = await admin.engine.connect().start()
        except (OSError, TimeoutError, DBAPIError) as error:
            detail = str(error).splitlines()[0] if str(error) else "no answer within 2 s"
            pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432 (set STEGVIS_TEST_POSTGRES_URL): {type(error).__name__}: {detail}")
        try:
            yield conn
        finally:
            await conn.close()
    finally:
        await admin.dispose()


async def _skip_without_postgres() -> None:
    async with _postgres_admin():
        pass


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_no_schema_yet_is_brought_to_head(backend: str, tmp_path: Path) -> None:
    async with _empty(backend, tmp_path) as database:
        await database.ensure_schema()
        async with database.engine.connect() as conn:
            version = (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).scalar()
            participants = (await conn.exec_driver_sql("SELECT count(*) FROM participants")).scalar()
    assert (version, participants) == (HEAD_REVISION, 0)


async def test_a_schema_behind_is_upgraded(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    def upgrade_to_first(connection: object) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")

    async with _empty("sqlite", tmp_path) as database:
        await database.with_migration_lock(upgrade_to_first)
        await database.ensure_schema()
        async with database.engine.connect() as conn:
            version = (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).scalar()
            await conn.exec_driver_sql("SELECT count(*) FROM outbox")
    assert version == HEAD_REVISION


async def test_a_schema_from_a_newer_stegvis_is_refused(sqlite_database: Database) -> None:
    async with sqlite_database.engine.begin() as conn:
        await conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0099'")

    with pytest.raises(SchemaTooNew) as raised:
        await sqlite_database.ensure_schema()

    assert _one_clean_line(raised.value) == (
        "the database is at schema revision '0099', which this Stegvis does not know "
        f"(its newest is '{HEAD_REVISION}'); run the newer Stegvis that migrated it, or check STEGVIS_DATABASE_URL"
    )


# PostgreSQL servers


async def test_a_server_that_refuses_connections_is_named_by_host_and_port() -> None:
    port = free_port()
    message = await _schema_error(f"postgresql://stegvis:{PASSWORD}@127.0.0.1:{port}/stegvis", DatabaseUnreachable)
    assert message == (
        f"PostgreSQL at 127.0.0.1:{port} refuses connections; start it, or fix the host and port in STEGVIS_DATABASE_URL"
    )


async def test_a_database_missing_on_the_server_is_named() -> None:
    await _skip_without_postgres()
    name = f"stegvis_missing_{uuid.uuid4().hex[:8]}"
    message = await _schema_error(_postgres_url(database=name), DatabaseMissing)
    assert message.endswith(f"has no database '{name}'; create it (createdb {name}) or fix the name in STEGVIS_DATABASE_URL")


async def test_a_refused_login_is_named_without_the_password() -> None:
    await _skip_without_postgres()
    message = await _schema_error(_postgres_url(username="nobody_here", password=PASSWORD), DatabaseLoginRefused)
    assert 'role "nobody_here" does not exist' in message
    assert message.endswith("; fix the user and password in STEGVIS_DATABASE_URL")


def _postgres_url(**parts: str) -> str:
    return make_url(POSTGRES_URL).set(**parts).render_as_string(hide_password=False)


# Alembic's command line


def _alembic(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "STEGVIS_DATABASE_URL": url}
    # Outside the repository and without PYTHONPATH: alembic.ini itself must find this storage.
    environment.pop("PYTHONPATH", None)
    return subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ROOT / "storage" / "alembic.ini"), *args],
        capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=60,
    )


def test_alembic_check_finds_the_migrations_match_the_models(tmp_path: Path) -> None:
    url = _sqlite_url(tmp_path / "stegvis.sqlite3")

    async def migrate() -> None:
        database = Database(url)
        await database.ensure_schema()
        await database.dispose()

    asyncio.run(migrate())
    checked = _alembic(tmp_path, url, "check")
    assert (checked.returncode, checked.stdout) == (0, "No new upgrade operations detected.\n"), checked.stderr


def test_alembic_command_line_reports_a_database_error_as_one_line(tmp_path: Path) -> None:
    port = free_port()
    checked = _alembic(tmp_path, f"postgresql://stegvis:{PASSWORD}@127.0.0.1:{port}/stegvis", "check")
    assert checked.returncode != 0 and "Traceback" not in checked.stderr
    assert checked.stdout == (
        f"FAILED: PostgreSQL at 127.0.0.1:{port} refuses connections; start it, or fix the host and port in STEGVIS_DATABASE_URL\n"
    )
    assert PASSWORD not in checked.stderr + checked.stdout
