"""Turning what the flow engine decided into Telegram's shapes: inline keyboards, answered questions."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from flows.engine import OutgoingMessage

log = logging.getLogger(__name__)


def keyboard(message: OutgoingMessage) -> InlineKeyboardMarkup | None:
    if not message.buttons:
        return None
    rows = [[InlineKeyboardButton(text=b.label, callback_data=b.data) for b in row] for row in message.buttons]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def answered(question: str, chosen: str) -> str:
    """The question kept on screen with the answer under it (its buttons are taken away)."""
    return f"{question}\n\n✅ {chosen}"


async def reply_to_chat(bot: Bot, chat_id: int, text: str) -> None:
    """A message to someone we keep no record of (no participant behind the chat)."""
    try:
        await bot.send_message(chat_id, text)
    except (TelegramForbiddenError, TelegramBadRequest) as error:
        log.info("could not answer an unknown chat: %s", error.message)
