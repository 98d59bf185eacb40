"""Two `stegvis run` processes sharing one PostgreSQL database send every reminder exactly once.

Each run gets a fresh database (created here, dropped afterwards); both processes run in webhook
mode against one sandbox in the test process, as several instances behind a load balancer would.
Claims use FOR UPDATE SKIP LOCKED, so neither waits for nor repeats the other's rows. Both run
on one frozen clock (STEGVIS_FROZEN_TIME); the test waits for each step itself (both processes
ticking, every reminder sent) with deadlines that hold on a loaded machine.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot.sandbox import BotAPISandbox
from storage.database import Database
from storage.models import OutboxMessage, OutboxStatus
from tests.conftest import POSTGRES_URL
from tests.harness import free_port
from tests.test_sender_crash import FROZEN, count_sent, fill_outbox, start_stegvis, stegvis_env, stop, wait_until


@pytest.fixture
async def fresh_postgres() -> AsyncIterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped after the test."""
    url = make_url(POSTGRES_URL)
    admin_dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"stegvis_t_{uuid.uuid4().hex[:12]}"
    try:
        async with asyncio.timeout(2):
            admin = await asyncpg.connect(admin_dsn)
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        pytest.skip(f"PostgreSQL not reachable at {url.host}:{url.port or 5432} (set STEGVIS_TEST_POSTGRES_URL): {type(error).__name__}: {error}")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_two_processes_on_one_postgres_database_send_each_reminder_once(fresh_postgres: str, tmp_path: Path) -> None:
    total = 300
    log = tmp_path / "stegvis.log"
    database = Database(fresh_postgres)
    await database.upgrade()
    async with BotAPISandbox() as sandbox:
        processes = []
        try:
            for _ in range(2):
                port = free_port()
                env = stegvis_env(
                    fresh_postgres,
                    sandbox,
                    STEGVIS_SEND_RATE="50",
                    STEGVIS_SEND_INTERVAL="0.2",
                    STEGVIS_WEBHOOK_LISTEN=f"127.0.0.1:{port}",
                    STEGVIS_WEBHOOK_SECRET="stegvis-test-secret",
                )
                processes.append(await start_stegvis(env, log, "--webhook", f"http://127.0.0.1:{port}/telegram"))

            def both_ticking() -> bool:
                # Each process says so once its scheduler has started (after its webhook is set).
                return log.read_text().count("a tick every") >= 2

            await wait_until(both_ticking, "both processes to start ticking", log, *processes)
            # The reminders fall due once both are ticking, so both race for them.
            keys = await fill_outbox(database, sandbox, total, now=FROZEN)

            async def all_sent() -> bool:
                return await count_sent(database) == total

            await wait_until(all_sent, f"all {total} reminders to be sent", log, *processes)
        finally:
            for process in processes:
                await stop(process)
        async with database.sessions() as session:
            rows = list(await session.scalars(select(OutboxMessage)))
        await database.dispose()

    counts = Counter((m.chat_id, m.text) for m in sandbox.sent_messages())
    assert {chat for chat, _ in counts} == set(keys), "no reminder lost"
    assert len(counts) == total
    assert max(counts.values()) == 1, f"sent twice: {[key for key, n in counts.items() if n > 1]}"
    assert all(row.status == OutboxStatus.SENT for row in rows)
    senders = Counter(row.claimed_by for row in rows)
    assert len(senders) == 2, f"both processes should have sent some: {senders}"
