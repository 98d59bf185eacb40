"""Wiring: settings, database, catalogs and the flow engine, and the aiogram bot and dispatcher on top.

``stegvis run``, ``stegvis demo``, the tests and the benches all build the bot through here, so
they exercise one code path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.config import Settings
from bot.middlewares import DatabaseMiddleware, ParticipantMiddleware
from bot.routers import answers, commands, membership, newcomers, reminders, stopped
from flows.engine import Engine, Sprint
from flows.library import load_flows
from locales import Catalogs
from storage.database import Database
from storage.models import Participant


def create_bot(settings: Settings) -> Bot:
    """A bot that talks to the configured Bot API server: Telegram's, a self-hosted one, or the sandbox."""
    if not settings.telegram_bot_token:
        raise RuntimeError("TELEGRAM_BOT_TOKEN is not set")
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    return Bot(settings.telegram_bot_token, session=session, default=DefaultBotProperties(link_preview_is_disabled=True))


@dataclass
class Stegvis:
    settings: Settings
    database: Database
    catalogs: Catalogs
    engine: Engine

    @classmethod
    def create(cls, settings: Settings) -> Stegvis:
        catalogs = Catalogs()
        return cls(settings, Database(settings.database_url), catalogs, Engine(load_flows(), catalogs))

    def create_bot(self) -> Bot:
        return create_bot(self.settings)

    def create_dispatcher(self) -> Dispatcher:
        dispatcher = Dispatcher(stegvis=self)
        dispatcher.update.outer_middleware(DatabaseMiddleware(self.database))
        dispatcher.update.outer_middleware(ParticipantMiddleware(self.catalogs))
        # Order matters: people without a participant record never reach the later routers, and
        # reminders drops questions about appointments that are over before commands sees them.
        routers = (membership, newcomers, stopped, reminders, commands, answers)
        dispatcher.include_routers(*(module.create_router() for module in routers))
        return dispatcher

    def variables(self, participant: Participant) -> dict[str, Any]:
        """The values flow texts may use about a participant: only what the texts need."""
        return {"name": participant.name}

    def onboarding(self, participant: Participant) -> Sprint:
        """Onboarding from the top: the language picker shows the chosen language first."""
        return self.engine.start("onboarding", language=participant.language, variables=self.variables(participant))
