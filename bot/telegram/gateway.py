"""The one way out to Telegram: every request of the bot passes here, replies and outbox alike.

`Gateway` is an aiogram request middleware on the bot's session, so a handler's
``message.answer()`` and the sender's ``bot.send_message()`` take their turn at the same
`RateLimiter`. Replies go first (`Priority.REPLY`, the default); the outbox sender marks its sends
as bulk with `sending_as`. A 429 pauses everyone: a burst of roll-call taps cannot draw a 429 the
sender never hears about. A reply that meets a 429 waits and is sent once more; a bulk send
gets the error back, to count it and try again in its own time. The sender takes its turn at
the limiter itself, just before sending (so that a stop can still hand a waiting row back), and
says so with ``sending_as(..., paced=True)``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from aiogram import Bot, methods
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

from bot.telegram.rate_limiter import Priority, RateLimiter

log = logging.getLogger(__name__)

# What Telegram counts against its message limits: what makes or changes a message in a chat.
PACED: tuple[type[TelegramMethod[Any]], ...] = (
    methods.SendMessage,
    methods.EditMessageText,
    methods.EditMessageReplyMarkup,
    methods.EditMessageCaption,
    methods.SendPhoto,
    methods.SendDocument,
    methods.SendVoice,
    methods.SendAudio,
    methods.SendSticker,
    methods.CopyMessage,
    methods.ForwardMessage,
)

_priority: ContextVar[tuple[Priority, bool]] = ContextVar("stegvis_send_priority", default=(Priority.REPLY, False))


@contextmanager
def sending_as(priority: Priority, *, paced: bool = False) -> Iterator[None]:
    """Requests made inside (and in tasks started inside) go with this priority; `paced`: the
    caller has already taken its turn at the limiter for the request."""
    token = _priority.set((priority, paced))
    try:
        yield
    finally:
        _priority.reset(token)


class Gateway(BaseRequestMiddleware):
    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter

    async def __call__(self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot, method: TelegramMethod[TelegramType]) -> Response[TelegramType]:
        if not isinstance(method, PACED):
            return await make_request(bot, method)
        chat_id = getattr(method, "chat_id", None)
        chat = chat_id if isinstance(chat_id, int) else None
        priority, paced = _priority.get()
        for attempt in (1, 2):
            if not paced or attempt == 2:
                await self.limiter.acquire(chat, priority)
            token = await self.limiter.issue(chat)
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as error:
                self.limiter.pause(error.retry_after)
                if priority is Priority.BULK or attempt == 2:
                    raise
                # Answers to a person's own message are few; waiting once is better than dropping one.
                log.warning("Telegram asked to wait %ss before a reply; waiting", error.retry_after)
            finally:
                self.limiter.done(token)
        raise AssertionError("unreachable")
