"""Shared fixtures: an upgraded, empty database on SQLite and on PostgreSQL (or one with no schema yet)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError

from storage.database import Database

POSTGRES_URL = os.environ.get(
    "STEGVIS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


@asynccontextmanager
async def _sqlite(tmp_path: Path, *, upgrade: bool = True) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'stegvis.db'}")
    if upgrade:
        await database.upgrade()
    try:
        yield database
    finally:
        await database.dispose()


@asynccontextmanager
async def _postgresql(*, upgrade: bool = True) -> AsyncIterator[Database]:
    # Each test gets its own schema, so tests cannot see each other's rows and nothing
    # needs cleaning up row by row.
    schema = f"t_{uuid.uuid4().hex}"
    admin = Database(POSTGRES_URL)
    try:
        try:
            async with asyncio.timeout(2):
                async with admin.engine.begin() as conn:
                    await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        except (OSError, TimeoutError, DBAPIError) as exc:
            detail = str(exc).splitlines()[0] if str(exc) else "no answer within 2 s"
            pytest.skip(
                "PostgreSQL not reachable at 127.0.0.1:5432 (set STEGVIS_TEST_POSTGRES_URL): "
                f"{type(exc).__name__}: {detail}"
            )
        database = Database(
            POSTGRES_URL, connect_args={"server_settings": {"search_path": schema}}
        )
        try:
            if upgrade:
                await database.upgrade()
            yield database
        finally:
            await database.dispose()
            async with admin.engine.begin() as conn:
                await conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await admin.dispose()


def backend(name: str, tmp_path: Path, *, upgrade: bool = True) -> AbstractAsyncContextManager[Database]:
    """A new database on "sqlite" or "postgresql", upgraded to the newest schema or with none at all."""
    return _sqlite(tmp_path, upgrade=upgrade) if name == "sqlite" else _postgresql(upgrade=upgrade)


@pytest.fixture(params=["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with backend(request.param, tmp_path) as db:
        yield db


@pytest.fixture
async def sqlite_database(tmp_path: Path) -> AsyncIterator[Database]:
    async with _sqlite(tmp_path) as db:
        yield db
from tests.harness import running_bot  # noqa: F401
