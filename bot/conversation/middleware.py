"""The middleware that gives each update of a participant its `Turn`, and finishes it afterwards.

It finds the participant behind a private chat and picks the language to answer in: the
participant's own choice, else Telegram's app language as a first guess, else Swedish. This is
the one place the language is chosen. Handlers get ``participant`` (None for someone without a
record), ``texts``, ``language_guess`` and, for a participant, ``turn``; after the routers have
decided, the turn is committed and its answers sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.types import TelegramObject, User

from bot.conversation.core import Conversations
from bot.conversation.turn import Turn
from locales import Catalogs
from locales.languages import guess_from_telegram

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class TurnMiddleware(BaseMiddleware):
    def __init__(self, conversations: Conversations, catalogs: Catalogs) -> None:
        self.conversations = conversations
        self.catalogs = catalogs

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        chat = data.get("event_chat")
        user: User | None = data.get("event_from_user")
        if chat is None or chat.type != "private" or user is None or user.is_bot:
            return None  # Stegvis talks to one person at a time; groups and channels are ignored
        conversations = self.conversations
        participant = await conversations.store.participant_by_chat(chat.id)
        guess = guess_from_telegram(user.language_code)
        texts = self.catalogs.texts(participant.language if participant and participant.language else guess)
        data.update(participant=participant, language_guess=guess, texts=texts)
        if participant is None:
            return await handler(event, data)
        turn = Turn(conversations, participant, texts, conversations.clock.now())
        for arrival in conversations.features.arrivals:
            await arrival(turn)
        data["turn"] = turn
        result = await handler(event, data)
        bot: Bot = data["bot"]
        await turn.finish(bot, event)
        return result
