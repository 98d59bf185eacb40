"""The real Stegvis bot, running end to end against the local Bot API sandbox, for tests.

``running_bot`` (a pytest fixture, registered in ``tests/conftest.py``) starts a `BotAPISandbox`,
builds `Stegvis` from settings that point at it, runs ``bot.run.start()`` and the real aiogram
long-polling loop as a task, and stops and closes everything afterwards. The database is a fresh
SQLite *file* in ``tmp_path``. Tests drive Telegram users and look at what was stored::

    async def test_something(running_bot: BotHarness) -> None:
        code = await running_bot.invite("Amina Yusuf")
        amina = running_bot.user(first_name="Amina", language_code="so")
        await amina.send(f"/start {code}")
        picker = await amina.next_reply()
        ...
        participant = await running_bot.participant(running_bot.participant_id(code))

`start_bot` is the same as an async context manager, for a caller's own database (e.g. conftest's
``database`` fixture, to run on PostgreSQL too) or for webhook mode (``bot.run.run_webhook``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from sqlalchemy import select

from bot.app import Stegvis
from bot.config import load_settings
from bot.features.participants import services
from bot.features.participants.commands import HELP_CONTACT, HELP_INTRO, HELP_LINE
from bot.sandbox import BotAPISandbox, SandboxUser
from bot.services import Actor
from bot.telegram.running import run_webhook, start
from locales import LANGUAGES, Catalogs
from storage import repositories as repo
from storage.clock import SYSTEM_CLOCK, Clock, FrozenClock
from storage.database import Database
from storage.models import Caseworker, ConsentRecord, Conversation, Event, Invite, Participant

CLI = Actor("cli", "test")

CASEWORKER = "Karin Lund"
# The command menu as a participant sees it, in its order (what /help lists, after its first line).
MENU = (("/language", "Byt språk"), ("/cantcome", "Jag kan inte komma"), ("/message", "Skriv till min handläggare"), ("/stop", "Stoppa meddelanden"), ("/mydata", "Mina uppgifter"))


def help_text_for(catalogs: Catalogs, language: str | None, caseworker: str) -> str:
    """/help as a participant reads it: what Stegvis does, a line per menu command, whom to ask."""
    texts = catalogs.texts(language)
    lines = [texts.gettext(HELP_LINE, command=command, description=texts.gettext(description)) for command, description in MENU]
    return "\n".join((texts.gettext(HELP_INTRO), *lines, texts.gettext(HELP_CONTACT, caseworker=caseworker)))
WEBHOOK_PATH = "/telegram"
WEBHOOK_SECRET = "stegvis-test-secret"


class BotHarness:
    """A running bot, its sandbox and its database, with helpers for tests."""

    def __init__(self, sandbox: BotAPISandbox, stegvis: Stegvis) -> None:
        self.sandbox = sandbox
        self.stegvis = stegvis
        self.database: Database = stegvis.database
        self.bot: Bot | None = None  # polling mode only: run_webhook builds its own
        self.dispatcher: Dispatcher | None = None
        self.webhook_url: str | None = None
        self.caseworker_id: int | None = None
        self._participants: dict[str, int] = {}  # invite code → participant id
        self._user_ids = itertools.count(5001)
        self._in_flight = 0

    # ---- caseworker side ------------------------------------------------------------

    async def invite(self, name: str, language: str | None = None) -> str:
        """A new participant of the test caseworker, as `stegvis participant add` makes one;
        returns the invite code (the ``?start=`` parameter of their personal link)."""
        now = self.stegvis.clock.now()
        async with self.database.sessions() as session:
            if self.caseworker_id is None:
                caseworker = await services.add_caseworker(session, CLI, name=CASEWORKER, email="karin.lund@example.se", now=now)
                self.caseworker_id = caseworker.caseworker_id
            added = await services.add_participant(
                session, CLI, name=name, caseworker_id=self.caseworker_id, language=language, now=now, invite_days=self.stegvis.settings.invite_days
            )
            await session.commit()
        self._participants[added.invite.code] = added.participant_id
        return added.invite.code

    def participant_id(self, code: str) -> int:
        return self._participants[code]

    async def expire_invite(self, code: str) -> None:
        """Move the invite's expiry into the past, directly in the database."""
        async with self.database.sessions() as session:
            invite = await session.scalar(select(Invite).where(Invite.code_hash == repo.invite_hash(code)))
            assert invite is not None, f"no invite {code!r}"
            invite.expires_at = self.stegvis.clock.now() - timedelta(minutes=1)
            await session.commit()

    # ---- Telegram side --------------------------------------------------------------

    def user(self, user_id: int | None = None, first_name: str = "Test", language_code: str | None = None) -> SandboxUser:
        """A Telegram user (a fresh id unless one is given) talking to the bot in a private chat."""
        return self.sandbox.user(next(self._user_ids) if user_id is None else user_id, first_name, language_code)

    async def onboard(self, user: SandboxUser, code: str, language: str) -> None:
        """Open the invite link, pick `language`, agree to the privacy notice, see the welcome."""
        await user.send(f"/start {code}")
        await user.next_reply()  # the language picker
        await user.press(LANGUAGES[language].native_name)
        await user.next_reply()  # the privacy notice
        await user.press(0)  # agree
        await user.next_reply()  # welcome
        if self.bot is not None:
            await self.settle()

    async def joined(self, name: str, language: str) -> tuple[SandboxUser, int]:
        """A new participant invited, onboarded in `language` (their Telegram user named by first name)."""
        code = await self.invite(name)
        user = self.user(first_name=name.split()[0])
        await self.onboard(user, code, language)
        return user, self.participant_id(code)

    @property
    def clock(self) -> FrozenClock:
        """The bot's clock, for tests that started it on a `FrozenClock` and move it by hand."""
        clock = self.stegvis.clock
        assert isinstance(clock, FrozenClock), "start the bot with clock=FrozenClock(...) to move its time"
        return clock

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait until every update sent so far has been fetched and fully handled by the bot.

        Use it before asserting that the bot sent *nothing more*, or before reading what a
        handler stored when no reply tells that it has finished. Polling mode only.
        """
        assert self.bot is not None, "settle() needs polling mode"
        async with asyncio.timeout(timeout):
            while True:
                # Updates leave the pending queue when the next getUpdates confirms them, which
                # aiogram sends only after it has created the handling task for each of them.
                info = await self.bot.get_webhook_info()
                if info.pending_update_count == 0 and self._in_flight == 0:
                    return
                await asyncio.sleep(0.01)

    def _track(self, dispatcher: Dispatcher) -> None:
        feed_update = dispatcher.feed_update

        async def tracked(bot: Bot, update: Any, **kwargs: Any) -> Any:
            self._in_flight += 1
            try:
                return await feed_update(bot, update, **kwargs)
            finally:
                self._in_flight -= 1

        dispatcher.feed_update = tracked  # type: ignore[method-assign]

    # ---- what is stored -------------------------------------------------------------

    async def participant(self, participant_id: int) -> Participant:
        async with self.database.sessions() as session:
            participant = await repo.get_participant(session, participant_id)
            assert participant is not None, f"no participant {participant_id}"
            return participant

    async def events(self, participant_id: int | None = None) -> list[Event]:
        async with self.database.sessions() as session:
            return await repo.list_events(session, participant_id)

    async def event_types(self, participant_id: int | None = None) -> list[str]:
        return [event.type for event in await self.events(participant_id)]

    async def consents(self, participant_id: int) -> list[ConsentRecord]:
        async with self.database.sessions() as session:
            query = select(ConsentRecord).where(ConsentRecord.participant_id == participant_id).order_by(ConsentRecord.id)
            return list(await session.scalars(query))

    async def conversation(self, participant_id: int) -> Conversation | None:
        async with self.database.sessions() as session:
            return await repo.load_conversation(session, participant_id)

    async def invite_row(self, code: str) -> Invite:
        async with self.database.sessions() as session:
            invite = await session.scalar(select(Invite).where(Invite.code_hash == repo.invite_hash(code)))
            assert invite is not None, f"no invite {code!r}"
            return invite

    async def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every stored row (bar `updated_at` bookkeeping), to show that something changed nothing."""
        tables = {
            "caseworkers": (Caseworker, ("id", "name", "email")),
            "participants": (Participant, ("id", "name", "caseworker_id", "language", "telegram_chat_id", "status")),
            "invites": (Invite, ("id", "code_hash", "participant_id", "expires_at", "used_at")),
            "consent_records": (ConsentRecord, ("id", "participant_id", "notice_version", "answer")),
            "conversations": (Conversation, ("participant_id", "flow", "step", "data")),
            "events": (Event, ("id", "type", "participant_id", "payload", "flow", "step")),
        }
        found: dict[str, list[tuple[Any, ...]]] = {}
        async with self.database.sessions() as session:
            for name, (model, columns) in tables.items():
                rows = await session.scalars(select(model))
                found[name] = sorted((tuple(str(getattr(row, c)) for c in columns) for row in rows))
        return found


def _close_without_grace_period(bot: Bot) -> None:
    """aiogram's AiohttpSession.close() sleeps 250 ms so that TLS connections can wind down; the
    sandbox is plain HTTP on 127.0.0.1, and those 250 ms per test would be most of the suite."""
    session = bot.session
    close = session.close

    async def quick_close() -> None:
        client = getattr(session, "_session", None)
        if client is None:
            return await close()
        if not client.closed:
            await client.close()

    session.close = quick_close  # type: ignore[method-assign]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@asynccontextmanager
async def start_bot(tmp_path: Path, *, database: Database | None = None, webhook: bool = False, clock: Clock = SYSTEM_CLOCK) -> AsyncIterator[BotHarness]:
    """The bot running against a fresh sandbox; long polling, or a webhook on 127.0.0.1.

    `database`: an upgraded database to run on, e.g. conftest's `database` (SQLite or a PostgreSQL
    schema); its connections are disposed afterwards, its owner still drops it. By default a new
    SQLite file in `tmp_path`. `clock`: the time Stegvis reads (a FrozenClock to move it by hand).
    """
    async with BotAPISandbox(bot_username="stegvis_test_bot") as sandbox:
        overrides: dict[str, Any] = {}
        if webhook:
            port = free_port()
            overrides = {"webhook_listen": f"127.0.0.1:{port}", "webhook_secret": WEBHOOK_SECRET}
        url = database.engine.url.render_as_string(hide_password=False) if database else f"sqlite+aiosqlite:///{tmp_path / 'stegvis.sqlite3'}"
        settings = load_settings(
            database_url=url,
            telegram_bot_token=sandbox.token,
            telegram_api_url=sandbox.url,
            telegram_bot_username=sandbox.bot_username,
            # The simulated people answer at once, faster than anyone taps; Telegram's per-chat
            # pace is tested where it matters (tests/test_sender.py, tests/test_gateway.py).
            send_rate_per_chat=30,
            **overrides,
        )
        stegvis = Stegvis.create(settings, clock=clock, database=database)
        harness = BotHarness(sandbox, stegvis)
        if webhook:
            harness.webhook_url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
            async with _webhook(harness, stegvis, harness.webhook_url):
                yield harness
        else:
            async with _polling(harness, stegvis):
                yield harness


@asynccontextmanager
async def _polling(harness: BotHarness, stegvis: Stegvis) -> AsyncIterator[None]:
    bot, dispatcher = await start(stegvis)
    harness.bot, harness.dispatcher = bot, dispatcher
    harness._track(dispatcher)
    _close_without_grace_period(bot)
    polling = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False, polling_timeout=1, allowed_updates=dispatcher.resolve_used_update_types()))
    try:
        yield
        with contextlib.suppress(TimeoutError, AssertionError):
            await harness.settle(timeout=2)  # let handlers that are still running finish
    finally:
        with contextlib.suppress(RuntimeError):  # polling never got going
            await dispatcher.stop_polling()
        await polling
        await bot.session.close()
        await stegvis.close()


@asynccontextmanager
async def _webhook(harness: BotHarness, stegvis: Stegvis, url: str) -> AsyncIterator[None]:
    sandbox = harness.sandbox
    serving = asyncio.create_task(run_webhook(stegvis, url))
    try:
        async with asyncio.timeout(10):
            while sandbox.webhook is None:  # run_webhook calls setWebhook once it is listening
                if serving.done():
                    serving.result()  # run_webhook failed to start: raise its error
                    raise RuntimeError("run_webhook returned without setting a webhook")
                await asyncio.sleep(0.01)
        yield
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving


@pytest.fixture
async def running_bot(tmp_path: Path) -> AsyncIterator[BotHarness]:
    """The real bot, long polling the sandbox, on a fresh SQLite file."""
    async with start_bot(tmp_path) as harness:
        yield harness
