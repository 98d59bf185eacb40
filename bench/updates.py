"""How many updates a second Stegvis handles, next to a bare aiogram Dispatcher on the same updates.

Usage::

    .venv/bin/python bench/updates.py [--participants 200] [--rounds 5] [--database sqlite|URL]

Both runs feed the same updates with ``Dispatcher.feed_update`` through a Bot whose session
answers every API call in memory, so neither side pays for HTTP. The full stack pays for
everything else: middlewares, participant lookup, the flow engine, the catalogs, the event log
and one database commit per update. The updates are what active participants send: the
/language command, a press on the language picker, and a free text.
Target: the full stack keeps at least half the bare framework's rate on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiogram import Bot, Dispatcher, Router  # noqa: E402
from aiogram.client.session.base import BaseSession  # noqa: E402
from aiogram.methods import TelegramMethod  # noqa: E402
from aiogram.types import CallbackQuery, Chat, Message, Update, User  # noqa: E402

from bot.app import Stegvis  # noqa: E402
from bot.config import load_settings  # noqa: E402
from storage import repositories as repo  # noqa: E402
from storage.database import Database  # noqa: E402
from storage.models import ParticipantStatus  # noqa: E402

TOKEN = "42:BENCH"
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)


class InMemorySession(BaseSession):
    """Answers every Bot API call at once, as Telegram would, and counts them."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.message_ids = itertools.count(1000)

    async def make_request(self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None) -> Any:
        self.calls += 1
        name = type(method).__name__
        if name in ("SendMessage", "EditMessageText"):
            chat_id = getattr(method, "chat_id", None) or 1
            return Message(message_id=next(self.message_ids), date=NOW, chat=Chat(id=chat_id, type="private"), text=method.text)
        return True

    async def stream_content(self, *args: Any, **kwargs: Any):  # pragma: no cover - never used here
        raise NotImplementedError

    async def close(self) -> None:
        pass


def make_updates(chat_ids: list[int], rounds: int) -> list[Update]:
    updates, ids = [], itertools.count(1)
    for _ in range(rounds):
        for chat_id in chat_ids:
            user = User(id=chat_id, is_bot=False, first_name="P", language_code="sv")
            chat = Chat(id=chat_id, type="private")
            command = Message(message_id=1, date=NOW, chat=chat, from_user=user, text="/language",
                              entities=[{"type": "bot_command", "offset": 0, "length": 9}])
            picker = Message(message_id=2, date=NOW, chat=chat, from_user=user, text="Välj språk.")
            press = CallbackQuery(id=str(next(ids)), from_user=user, chat_instance="1", message=picker, data="s:language:pick:sv")
            text = Message(message_id=3, date=NOW, chat=chat, from_user=user, text="hej")
            updates += [Update(update_id=next(ids), message=command), Update(update_id=next(ids), callback_query=press),
                        Update(update_id=next(ids), message=text)]
    return updates


async def rate(dispatcher: Dispatcher, bot: Bot, updates: list[Update], concurrency: int) -> float:
    """Updates per second, fed in batches of ``concurrency`` at once as the polling loop does."""
    for update in updates[:30]:  # warm caches and connections
        await dispatcher.feed_update(bot, update)
    started = time.perf_counter()
    for first in range(0, len(updates), concurrency):
        # One participant's updates must stay in order, so a batch never holds two of theirs.
        await asyncio.gather(*(dispatcher.feed_update(bot, u) for u in updates[first:first + concurrency]))
    return len(updates) / (time.perf_counter() - started)


def bare_dispatcher() -> Dispatcher:
    router = Router()

    @router.message()
    async def on_message(message: Message) -> None:
        await message.answer("ok")

    @router.callback_query()
    async def on_press(callback: CallbackQuery) -> None:
        await callback.answer()

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    return dispatcher


async def seed(stegvis: Stegvis, count: int) -> list[int]:
    async with stegvis.database.sessions() as session:
        caseworker = await repo.add_caseworker(session, "Bench")
        chat_ids = []
        for number in range(count):
            participant = await repo.add_participant(session, f"Deltagare {number}", caseworker.id, "sv")
            participant.telegram_chat_id = 100_000 + number
            participant.status = ParticipantStatus.ACTIVE
            chat_ids.append(participant.telegram_chat_id)
        await session.commit()
    return chat_ids


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=1, help="updates in flight at once (aiogram's polling runs each as a task)")
    parser.add_argument("--database", default="sqlite", help="sqlite (a temporary file) or a database URL")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.sqlite3" if args.database == "sqlite" else args.database
        stegvis = Stegvis.create(load_settings(database_url=url, telegram_bot_token=TOKEN))
        schema = None
        if stegvis.database.dialect == "postgresql":
            # A schema of its own, dropped afterwards: the bench never touches anyone's tables.
            schema = f"bench_{uuid.uuid4().hex[:12]}"
            async with stegvis.database.engine.begin() as connection:
                await connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
            await stegvis.database.dispose()
            stegvis.database = Database(url, connect_args={"server_settings": {"search_path": schema}})
        await stegvis.database.upgrade()
        chat_ids = await seed(stegvis, args.participants)
        updates = make_updates(chat_ids, args.rounds)

        full_session, bare_session = InMemorySession(), InMemorySession()
        full_bot, bare_bot = Bot(TOKEN, session=full_session), Bot(TOKEN, session=bare_session)
        full = await rate(stegvis.create_dispatcher(), full_bot, updates, args.concurrency)
        bare = await rate(bare_dispatcher(), bare_bot, updates, args.concurrency)
        if schema:
            async with stegvis.database.engine.begin() as connection:
                await connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        await stegvis.database.dispose()

    print(f"updates fed:          {len(updates)} ({args.participants} participants x {args.rounds} rounds x 3 kinds)")
    print(f"database:             {stegvis.database.dialect} ({'temporary file' if args.database == 'sqlite' else 'given URL'})")
    print(f"full stack:           {full:8.0f} updates/s  ({full_session.calls} Bot API calls)")
    print(f"bare aiogram:         {bare:8.0f} updates/s  ({bare_session.calls} Bot API calls)")
    print(f"ratio full / bare:    {full / bare:8.2f}   (target >= 0.50)")


if __name__ == "__main__":
    asyncio.run(main())
