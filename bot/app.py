"""Wiring: settings, clock, database, catalogs, flow engine and the features, and the bot on top.

``stegvis run``, ``stegvis demo``, the tests and the benches all build the bot through here, so
they exercise one code path. `Stegvis.create` loads the features (``bot/features/__init__.py``)
and lets each register what it plugs in; nothing here names a feature.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer

from bot import lazy_aiogram
from bot.config import Settings
from bot.conversation.core import Conversations
from bot.features import load_features
from bot.live_reload import LiveReloader
from bot.registry import Features
from bot.telegram.dispatcher import build_dispatcher
from bot.telegram.gateway import Gateway
from bot.telegram.rate_limiter import RateLimiter
from flows.engine import Engine
from flows.library import load_flows
from locales import Catalogs
from storage.clock import SYSTEM_CLOCK, Clock
from storage.database import Database
from storage.writer import EngineStore, SQLiteStore, Store


@dataclass
class Stegvis:
    settings: Settings
    database: Database
    catalogs: Catalogs
    engine: Engine
    clock: Clock
    limiter: RateLimiter
    store: Store
    features: Features = field(default_factory=Features)
    conversations: Conversations = field(init=False)
    # Content published while the bot runs (flows, translations), polled for by the scheduler.
    live: LiveReloader = field(default_factory=LiveReloader)

    def __post_init__(self) -> None:
        self.conversations = Conversations(self.engine, self.features, self.store, self.clock, retention_months=self.settings.retention_months)

    @classmethod
    def create(cls, settings: Settings, *, clock: Clock = SYSTEM_CLOCK, database: Database | None = None, limiter: RateLimiter | None = None) -> Stegvis:
        from bot import redaction

        redaction.install_for(settings)  # before anything can log a request's URL with the token
        catalogs = Catalogs()
        database = database or Database(settings.database_url)
        stegvis = cls(
            settings,
            database,
            catalogs,
            Engine(load_flows(), catalogs),
            clock,
            limiter or RateLimiter(settings.send_rate, settings.send_rate_per_chat),
            hot_path_store(database),
        )
        load_features(stegvis.features, stegvis)
        return stegvis

    def create_bot(self, session: BaseSession | None = None) -> Bot:
        """A bot that talks to the configured Bot API server (Telegram's, a self-hosted one, or the
        sandbox), every request paced by the one gateway."""
        if not self.settings.telegram_bot_token:
            raise RuntimeError("TELEGRAM_BOT_TOKEN is not set")
        lazy_aiogram.warm_up()
        session = session or AiohttpSession(api=TelegramAPIServer.from_base(self.settings.telegram_api_url))
        session.middleware(Gateway(self.limiter))
        return Bot(self.settings.telegram_bot_token, session=session, default=DefaultBotProperties(link_preview_is_disabled=True))

    def create_dispatcher(self) -> Dispatcher:
        return build_dispatcher(self.conversations, self.catalogs, self.features, stegvis=self)

    def variables(self, participant: Any) -> dict[str, Any]:
        return self.conversations.variables(participant)

    async def close(self) -> None:
        await self.store.close()
        await self.database.dispose()


def hot_path_store(database: Database) -> Store:
    """The store for the hot path: the SQLite thread with group commit, or the async engine."""
    url = database.engine.url
    if database.dialect == "sqlite" and url.database not in (None, "", ":memory:") and not url.database.startswith("file:"):
        return SQLiteStore(Path(url.database).resolve())  # the same file whatever the working folder
    return EngineStore(database.engine)
