"""A press on one row of the morning message that asks about two sessions: the other rows stay.

The morning message (`morning.py`) has a row of buttons per session. Telegram shows one message,
and the turn would mark it answered and take every button away; this router, before the
conversation core's, lets the core answer the press as usual (`bot.conversation.router.press`)
and then has the turn show the message with the answer under it and only the rows of the other
sessions left. A press that answers nothing (an old or forged button) leaves it as it was.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Filter
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.conversation import router as core
from bot.conversation.core import Conversations
from bot.conversation.turn import Turn
from bot.features.activities.question import FLOW
from bot.telegram.rendering import answered
from flows.engine import Button, ButtonAddress, OutgoingMessage


def other_rows(callback: CallbackQuery) -> tuple[str, tuple[tuple[Button, ...], ...]] | None:
    """The pressed button's label and the rows about other sessions, when the pressed message has any."""
    address = ButtonAddress.parse(callback.data or "")
    message = callback.message
    if address is None or address.flow != FLOW or address.ref is None or not isinstance(message, Message):
        return None
    markup = message.reply_markup
    if not isinstance(markup, InlineKeyboardMarkup):
        return None
    label, kept = None, []
    for row in markup.inline_keyboard:
        buttons = tuple(Button(b.text, b.callback_data) for b in row if b.callback_data)
        refs = {ButtonAddress.parse(b.data).ref for b in buttons if ButtonAddress.parse(b.data) is not None}  # type: ignore[union-attr]
        if address.ref in refs:
            label = next((b.label for b in buttons if b.data == callback.data), label)
        elif buttons:
            kept.append(buttons)
    return (label, tuple(kept)) if label is not None and kept else None


def keep_other_rows(turn: Turn, callback: CallbackQuery) -> None:
    """After an answered press: the message shows «✅ 10:00 Ja» and keeps the other sessions' rows."""
    found = other_rows(callback)
    message = callback.message
    if found is None or turn.chosen is None or not isinstance(message, Message) or not message.text:
        return
    label, kept = found
    turn.show_pressed(OutgoingMessage(answered(message.text, label), kept))


class RowOfSeveral(Filter):
    """A press on a row of the question in a message that has rows about other sessions too."""

    async def __call__(self, callback: CallbackQuery) -> bool:
        return other_rows(callback) is not None


def create_router() -> Router:
    async def row_pressed(callback: CallbackQuery, turn: Turn, conversations: Conversations) -> None:
        await core.press(callback, turn, conversations)
        keep_other_rows(turn, callback)

    router = Router(name="activities-rows")
    router.callback_query.register(row_pressed, RowOfSeveral())
    return router
