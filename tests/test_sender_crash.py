"""A `stegvis run` process killed (SIGKILL) in the middle of a batch loses no reminder.

The sandbox runs in the test process on 127.0.0.1; the bot runs as a real subprocess on a SQLite
file. After the kill a second process takes over: every reminder is delivered, and the only ones
delivered twice are those the first process had sent but not yet recorded as sent when it died.

The processes run on frozen clocks (STEGVIS_FROZEN_TIME), the second one a lease later than the
first: its first tick finds the dead process's claims expired, however long start-up took, and
a living process never sees its own claims age. Every wait is for the thing itself, with a
deadline that holds on a loaded machine.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, insert, select

from bot.features.appointments.messages import REMINDER, SUBJECT
from bot.sandbox import BotAPISandbox
from storage import outbox
from storage.database import Database
from storage.models import Appointment, Caseworker, OutboxMessage, OutboxStatus, Participant
from storage.outbox import Planned, Recipient, Subject
from tests.test_sender import eventually

ROOT = Path(__file__).resolve().parent.parent
CHAT_BASE = 700_000
FROZEN = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)  # "now" for the processes; 10:00 in Stockholm
LEASE = timedelta(seconds=60)
DEADLINE = 120.0  # seconds: start-up and a few hundred sends on a loaded machine


async def fill_outbox(database: Database, sandbox: BotAPISandbox, count: int, *, now: datetime) -> dict[int, str]:
    """`count` active participants, each with an appointment tomorrow and its reminder due now.

    Returns chat id → idempotency key. Rows go in with plain INSERTs and one `enqueue_many`: this
    is set-up, not the thing under test.
    """
    async with database.sessions() as session:
        caseworker = (await session.execute(insert(Caseworker).values(name="Karin Lund", created_at=now).returning(Caseworker.id))).scalar_one()
        chats = [CHAT_BASE + n for n in range(count)]
        people = (
            await session.execute(
                insert(Participant).returning(Participant.id, Participant.telegram_chat_id),
                [
                    {"name": f"P{chat}", "caseworker_id": caseworker, "language": "sv", "telegram_chat_id": chat, "status": "active", "created_at": now, "updated_at": now}
                    for chat in chats
                ],
            )
        ).all()
        chat_of = dict(people)
        appointments = (
            await session.execute(
                insert(Appointment).returning(Appointment.id, Appointment.participant_id),
                [
                    {"participant_id": pid, "starts_at": now + timedelta(days=1), "place": "Nygatan 19", "version": 1, "status": "booked", "created_at": now, "updated_at": now}
                    for pid in chat_of
                ],
            )
        ).all()
        keys = {}
        planned = []
        for appointment_id, participant_id in appointments:
            reminder = Planned(
                Recipient.participant(participant_id),
                REMINDER,
                now - timedelta(seconds=1),
                subject=Subject(SUBJECT, appointment_id, 1),
                slot="1d",
                payload={"lead": "1d", "immediate": False},
            )
            keys[chat_of[participant_id]] = reminder.key
            planned.append(reminder)
        assert await outbox.enqueue_many(session, planned, now=now) == count
        await session.commit()
    for chat in keys:
        sandbox.user(chat, f"P{chat}", "sv")
    return keys


def stegvis_env(database_url: str, sandbox: BotAPISandbox, *, now: datetime = FROZEN, **settings: str) -> dict[str, str]:
    """The environment of a `stegvis run` on this worktree's code, frozen at `now`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STEGVIS_", "TELEGRAM_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        STEGVIS_DATABASE_URL=database_url,
        STEGVIS_FROZEN_TIME=now.isoformat(),
        TELEGRAM_BOT_TOKEN=sandbox.token,
        TELEGRAM_API_URL=sandbox.url,
        TELEGRAM_BOT_USERNAME=sandbox.bot_username,
        STEGVIS_QUIET_HOURS="",
        PYTHONUNBUFFERED="1",
    )
    env.update(settings)
    return env


async def start_stegvis(env: Mapping[str, str], log: Path, *args: str) -> asyncio.subprocess.Process:
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", *args, env=dict(env), cwd=ROOT, stdout=out, stderr=asyncio.subprocess.STDOUT
        )


async def stop(process: asyncio.subprocess.Process, sig: int = signal.SIGTERM, timeout: float = DEADLINE) -> None:
    if process.returncode is not None:
        return
    process.send_signal(sig)
    try:
        async with asyncio.timeout(timeout):
            await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()


async def wait_until(
    predicate: Callable[[], bool | Awaitable[bool]], what: str, log: Path, *processes: asyncio.subprocess.Process, timeout: float = DEADLINE
) -> None:
    """Wait until `predicate` (sync or async) holds; fail with the tail of the bot's log if a process
    exits or `timeout` seconds pass first."""

    async def holds() -> bool:
        for process in processes:
            assert process.returncode is None, f"stegvis run exited ({process.returncode}) while waiting for {what}:\n{log.read_text()[-4000:]}"
        result = predicate()
        return await result if inspect.isawaitable(result) else result

    try:
        await eventually(holds, what, timeout)
    except AssertionError as error:
        if "stegvis run exited" in str(error):
            raise
        raise AssertionError(f"{error}\n--- stegvis log ---\n{log.read_text()[-4000:]}") from None


def open_connections(sandbox: BotAPISandbox) -> int:
    """HTTP connections the sandbox has open: a killed process's close once the sandbox has read
    (and answered or dropped) every request it had written."""
    server = sandbox._runner.server if sandbox._runner is not None else None
    return len(server.connections) if server is not None else 0


def deliveries(sandbox: BotAPISandbox) -> Counter[tuple[int, str]]:
    return Counter((m.chat_id, m.text) for m in sandbox.sent_messages())


async def count_sent(database: Database) -> int:
    async with database.sessions() as session:
        return await session.scalar(select(func.count()).where(OutboxMessage.status == OutboxStatus.SENT)) or 0


async def test_killed_sender_loses_nothing_and_doubles_only_what_was_in_flight(tmp_path: Path) -> None:
    total = 200
    url = f"sqlite+aiosqlite:///{tmp_path / 'stegvis.sqlite3'}"
    log = tmp_path / "stegvis.log"
    database = Database(url)
    await database.upgrade()
    async with BotAPISandbox() as sandbox:
        try:
            keys = await fill_outbox(database, sandbox, total, now=FROZEN)
            # 20/s keeps a batch (20 rows) in hand for a second, so the kill finds rows claimed.
            settings = {"STEGVIS_SEND_RATE": "20", "STEGVIS_SEND_INTERVAL": "0.2", "STEGVIS_SEND_LEASE": str(LEASE.total_seconds())}

            first = await start_stegvis(stegvis_env(url, sandbox, **settings), log)
            try:
                await wait_until(lambda: len(sandbox.sent_messages()) >= 30, "the first process to deliver 30 reminders", log, first)
            finally:
                await stop(first, signal.SIGKILL)
            # Whatever the dead process had written to the sandbox is answered (or dropped) by now.
            await wait_until(lambda: open_connections(sandbox) == 0, "the killed process's connections to close", log)
            delivered_at_kill = deliveries(sandbox)
            async with database.sessions() as session:
                rows = list(await session.scalars(select(OutboxMessage)))
            key_chat = {key: chat for chat, key in keys.items()}
            recorded_at_kill = {key_chat[r.idempotency_key] for r in rows if r.status == OutboxStatus.SENT}
            in_hand_at_kill = {key_chat[r.idempotency_key] for r in rows if r.status == OutboxStatus.SENDING}
            assert 30 <= len(delivered_at_kill) < total, "the kill must come in the middle of sending"
            assert in_hand_at_kill, "the killed process held claimed rows"
            # Sent but not yet recorded when it died: the only ones that may arrive twice.
            in_flight = {chat for chat, _ in delivered_at_kill} - recorded_at_kill
            assert in_flight <= in_hand_at_kill

            # The second process's clock is a lease on: the dead one's claims have expired.
            second = await start_stegvis(stegvis_env(url, sandbox, now=FROZEN + LEASE + timedelta(seconds=1), **settings), log)
            try:
                await wait_until(lambda: _sent_all(database, total), "the second process to send every reminder", log, second)
            finally:
                await stop(second)
            assert second.returncode == 0, log.read_text()[-4000:]
            async with database.sessions() as session:
                rows = list(await session.scalars(select(OutboxMessage)))
        finally:
            await database.dispose()

        counts = deliveries(sandbox)
        assert {chat for chat, _ in counts} == set(keys), "every participant got their reminder"
        assert all(text for _, text in counts)
        doubled = {chat for (chat, _), n in counts.items() if n > 1}
        assert doubled <= in_flight, "only a reminder in flight at the kill may arrive twice"
        assert max(counts.values()) <= 2
        assert len(counts) == total  # one text per participant: nothing else was sent
        assert {r.status for r in rows} == {OutboxStatus.SENT}


async def _sent_all(database: Database, total: int) -> bool:
    return await count_sent(database) == total
