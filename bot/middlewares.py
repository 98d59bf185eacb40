"""Middlewares that hand each handler what its signature asks for: session, participant, texts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, User

from locales import Catalogs
from locales.languages import guess_from_telegram
from storage import repositories as repo
from storage.database import Database
from storage.models import ParticipantStatus

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class DatabaseMiddleware(BaseMiddleware):
    """One database session per update; handlers commit what they decide before they send."""

    def __init__(self, database: Database):
        self.database = database

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        async with self.database.sessions() as session:
            data["session"] = session
            return await handler(event, data)


class ParticipantMiddleware(BaseMiddleware):
    """Finds the participant behind a private chat, and picks the language to answer in.

    This is the one place the language is chosen: the participant's own choice, else Telegram's
    app language as a first guess, else Swedish.
    """

    def __init__(self, catalogs: Catalogs):
        self.catalogs = catalogs

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        chat = data.get("event_chat")
        user: User | None = data.get("event_from_user")
        if chat is None or chat.type != "private" or user is None or user.is_bot:
            return None  # Stegvis talks to one person at a time; groups and channels are ignored
        participant = await repo.get_participant_by_chat(data["session"], chat.id)
        if participant is not None and participant.status == ParticipantStatus.UNREACHABLE:
            # They wrote to us, so they have unblocked the bot.
            participant.status = await repo.status_after_return(data["session"], participant.id)
            await repo.append_event(data["session"], "participant_reachable", participant.id)
            # Committed now: handlers that only answer (/help, an unknown command) never commit.
            await data["session"].commit()
        guess = guess_from_telegram(user.language_code)
        data["participant"] = participant
        data["language_guess"] = guess
        data["texts"] = self.catalogs.texts(participant.language if participant and participant.language else guess)
        return await handler(event, data)

