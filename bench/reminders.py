"""How fast the outbox sender delivers a burst of reminders without tripping Telegram's rate limit.

Usage::

    .venv/bin/python bench/reminders.py [--participants 10000] [--limit 300] [--headroom 0.98] [--database sqlite|URL]

10,000 active participants whose reminders all fall due in the same minute are sent by the real
`Sender` (real aiogram Bot, real database, real HTTP) to the local Bot API sandbox, which enforces
an overall limit of ``--limit`` messages per sliding second and one per chat, and answers 429 with
``retry_after`` above them. Telegram's real bulk limit is about 30/s; the bench scales it up so a
run stays short, and prints the limit used. The sender is configured ``--headroom`` below it.
Targets: achieved rate ≥ 0.95 of the limit, no 429, no duplicate, no loss.
A second run with no limit anywhere prints the sender's own ceiling.

The sandbox runs in a process of its own, as Telegram is not inside the bot's process; it
counts what arrived, so duplicates and losses are counted at the receiving end. The time is from
the first tick until every message was delivered and recorded as sent. Peak memory is the
bot process's maximum resident size (ru_maxrss): bot, sender and database driver; the
participants and their reminders are written by a process of their own first, as the
caseworkers' bookings would have been. Target: < 150 MB with 30,000 participants.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import resource
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.app import Stegvis  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.outbox.sender import Sender  # noqa: E402
from bot.sandbox import BotAPISandbox  # noqa: E402
from bot.scheduler import settle_memory  # noqa: E402
from bot.telegram.rate_limiter import RateLimiter  # noqa: E402
from storage.clock import SYSTEM_CLOCK  # noqa: E402
from storage.database import Database  # noqa: E402
from storage.models import Appointment, Caseworker, OutboxMessage, Participant  # noqa: E402
from storage.outbox import Recipient, Subject, idempotency_key  # noqa: E402

CHAT_BASE = 1_000_000


@dataclass
class Result:
    delivered: int
    seconds: float
    throttled: int
    duplicates: int
    lost: int


async def fill(database: Database, count: int, now: datetime) -> set[int]:
    """`count` active participants, each with one reminder falling due within the same minute."""
    minute = now.replace(second=0, microsecond=0)
    async with database.sessions() as session:
        caseworker = (await session.execute(insert(Caseworker).values(name="Karin Lund", created_at=now).returning(Caseworker.id))).scalar_one()
        chats = [CHAT_BASE + n for n in range(count)]
        people = await session.execute(
            insert(Participant).returning(Participant.id, Participant.telegram_chat_id),
            [{"name": f"P{c}", "caseworker_id": caseworker, "language": "sv", "telegram_chat_id": c, "status": "active", "created_at": now, "updated_at": now} for c in chats],
        )
        chat_of = dict(people.all())
        appointments = await session.execute(
            insert(Appointment).returning(Appointment.id, Appointment.participant_id),
            [{"participant_id": p, "starts_at": now + timedelta(days=1), "place": "Nygatan 19", "version": 1, "status": "booked", "created_at": now, "updated_at": now} for p in chat_of],
        )
        rows = [
            {
                "idempotency_key": idempotency_key(Recipient.participant(p), Subject("appointment", a, 1), "appointment.reminder", "1d"),
                "recipient_kind": "participant",
                "recipient_id": p,
                "channel": "telegram",
                "subject_kind": "appointment",
                "subject_id": a,
                "subject_version": 1,
                "composer": "appointment.reminder",
                "slot": "1d",
                "payload": {"lead": "1d", "immediate": False},
                "due_at": min(minute + timedelta(seconds=n % 60), now),  # spread over the minute, all due by now
                "status": "pending",
                "attempts": 0,
                "created_at": now,
            }
            for n, (a, p) in enumerate(appointments.all())
        ]
        await session.execute(insert(OutboxMessage), rows)
        await session.commit()
    return set(chats)


def _fill_process(database_url: str, count: int, conn: Connection) -> None:
    async def go() -> set[int]:
        database = Database(database_url)
        try:
            await database.ensure_schema()
            return await fill(database, count, SYSTEM_CLOCK.now())
        finally:
            await database.dispose()

    conn.send(asyncio.run(go()))


def fill_elsewhere(database_url: str, count: int) -> set[int]:
    """`fill` in a process of its own: the rows are set-up, and their making would otherwise count
    in the bot process's peak memory (tens of thousands of rows in memory at once)."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_fill_process, args=(database_url, count, child))
    process.start()
    chats = parent.recv()
    process.join(timeout=60)
    return chats


def serve_sandbox(conn: Connection, limit: float | None) -> None:
    """The sandbox's own process: start it, then answer the bench's requests over the pipe."""
    # The sandbox keeps every message it received; a full garbage collection over 10,000 of them
    # stalls it for up to a quarter of a second, after which it counts the requests that queued
    # meanwhile as arriving in the same instant: a burst Telegram's servers would not see.
    gc.disable()

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        async with BotAPISandbox(rate_limit=limit, per_chat_rate_limit=1 if limit else None, retry_after=1) as sandbox:
            conn.send((sandbox.url, sandbox.token, sandbox.bot_username))
            while True:
                request, argument = await loop.run_in_executor(None, conn.recv)
                if request == "users":
                    for chat in argument:
                        sandbox.user(chat, f"P{chat}", "sv")
                    conn.send(True)
                elif request == "report":
                    per_chat = Counter(m.chat_id for m in sandbox.sent_messages())
                    conn.send((dict(per_chat), sandbox.too_many_requests))
                else:
                    return

    asyncio.run(serve())


class RemoteSandbox:
    """The bench's end of the pipe to the sandbox process."""

    def __init__(self, limit: float | None) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=serve_sandbox, args=(child, limit), daemon=True)
        self._process.start()
        self.url, self.token, self.bot_username = self._conn.recv()

    def ask(self, request: str, argument: Any = None) -> Any:
        self._conn.send((request, argument))
        return self._conn.recv()

    def close(self) -> None:
        self._conn.send(("stop", None))
        self._process.join(timeout=10)


async def run(count: int, limit: float | None, rate: float | None, database_url: str) -> tuple[Result, Sender]:
    sandbox = RemoteSandbox(limit)
    try:
        settings = load_settings(
            database_url=database_url,
            telegram_bot_token=sandbox.token,
            telegram_api_url=sandbox.url,
            telegram_bot_username=sandbox.bot_username,
            quiet_hours="",
        )
        stegvis = Stegvis.create(settings, limiter=RateLimiter(rate, 1.0 if rate else None))
        await stegvis.database.ensure_schema()
        bot = stegvis.create_bot()
        try:
            chats = fill_elsewhere(database_url, count)
            sandbox.ask("users", sorted(chats))
            sender = Sender(stegvis, bot)
            settle_memory()  # as `stegvis run` does once it has started
            started = time.perf_counter()
            while sender.stats.sent + sender.stats.failed < count:
                if not await sender.tick():
                    await asyncio.sleep(0.05)  # e.g. a 429 pause sent rows back to pending
            seconds = time.perf_counter() - started
        finally:
            await bot.session.close()
            await stegvis.close()
        per_chat, throttled = sandbox.ask("report")
    finally:
        sandbox.close()
    duplicates = sum(n - 1 for n in per_chat.values() if n > 1)
    lost = len(chats - set(per_chat))
    return Result(sum(per_chat.values()), seconds, throttled, duplicates, lost), sender


def resident_mib() -> float | None:
    """The process's resident size now (Linux), to tell the imports from the run."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def database_url(choice: str, directory: Path, name: str) -> str:
    if choice == "sqlite":
        return f"sqlite+aiosqlite:///{directory / name}.sqlite3"
    return choice  # an empty PostgreSQL database of your own: the bench fills it


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--limit", type=float, default=300.0, help="messages per second the sandbox allows (Telegram: about 30)")
    parser.add_argument("--headroom", type=float, default=0.98, help="the sender's rate as a fraction of the limit")
    parser.add_argument("--database", default="sqlite", help="sqlite (a temporary file) or an empty database URL")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the run with no limit")
    args = parser.parse_args()
    if args.database != "sqlite" and not args.no_ceiling:
        parser.error("with --database URL, use --no-ceiling (each run needs an empty database)")

    rate = args.limit * args.headroom
    at_start = resident_mib()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        shown = args.database if args.database == "sqlite" else make_url(args.database).render_as_string(hide_password=True)
        print(f"{args.participants} participants, reminders due in the same minute; database {shown}")
        print(f"sandbox limit: {args.limit:g} messages/s overall (sliding second), 1/s per chat, 429 retry_after=1 s")
        print(f"sender: {rate:g} messages/s ({args.headroom:g} of the limit), 1/s per chat")
        limited, sender = await run(args.participants, args.limit, rate, database_url(args.database, directory, "limited"))
        achieved = limited.delivered / limited.seconds
        print(f"  delivered {limited.delivered} in {limited.seconds:.2f} s: {achieved:.1f} messages/s = {achieved / args.limit:.3f} of the limit (target >= 0.95)")
        print(f"  429s received: {limited.throttled} (target 0); duplicates: {limited.duplicates}, lost: {limited.lost} (target 0)")
        print(f"  claims: {sender.stats.claimed}, batch size {sender.batch_size}, re-checked in chunks of {sender.chunk_size}")
        if not args.no_ceiling:
            free, _ = await run(args.participants, None, None, database_url(args.database, directory, "free"))
            print("no limit anywhere (the sender's own ceiling):")
            print(f"  delivered {free.delivered} in {free.seconds:.2f} s: {free.delivered / free.seconds:.1f} messages/s; duplicates: {free.duplicates}, lost: {free.lost}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    start = f" ({at_start:.0f} MiB after imports, before the first run)" if at_start else ""
    print(f"peak memory of the bot process (max resident size): {peak:.0f} MiB{start}")
    ok = achieved / args.limit >= 0.95 and limited.throttled == 0 and not limited.duplicates and not limited.lost
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
