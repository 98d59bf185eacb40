"""Quick replies from the Telegram digest: the buttons under a needs-action participant, and a press.

A press in the caseworker's own chat calls the same service as ``stegvis reply --with`` (the
caseworker messages feature's `send_reply`) as that caseworker: the reply is an event and goes to
the participant in their language through the outbox, quiet hours respected. The buttons are then
taken away and one line says what was sent (and when it goes out, if quiet hours hold it).

Callback data is ``cwr:<participant id>:<reply id>``: ids only. A refusal (the participant said
/stop, blocked the bot, is someone else's, or is gone) is an alert in Swedish, and nothing is sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Filter
from aiogram.types import CallbackQuery
from sqlalchemy import Row, select

from bot.features.caseworker_messages.messages import QUICK_REPLIES
from flows.engine import Button
from locales import SOURCE_LANGUAGE

if TYPE_CHECKING:
    from bot.app import Stegvis

log = logging.getLogger(__name__)

PREFIX = "cwr"
# The caseworker's labels (Swedish staff), short enough for two on a phone's row; the
# participant receives the full catalog text of QUICK_REPLIES in their own language.
LABELS: dict[str, str] = {
    "call_you": "📞 Jag ringer idag",
    "come_to_office": "🏢 Kom till kontoret",
    "stays_booked": "✅ Tiden gäller",
    "new_time": "📅 Ny tid kommer",
    "noted": "👍 Noterat",
}
ROWS = (("call_you", "come_to_office"), ("stays_booked", "new_time"), ("noted",))
assert set(LABELS) == set(QUICK_REPLIES) == {reply for row in ROWS for reply in row}

SENT = "Skickat till {name} (id {id}) på {language}: «{text}»"
HELD = "Går ut {at}, när de tysta timmarna är slut."
OLD_BUTTON = "Den här knappen fungerar inte längre. Svara med: stegvis reply --participant ID"
NOT_SENT = "Svaret skickades inte: {why}"
WHY = {
    "stopped": "deltagaren har sagt /stop och får inga meddelanden från Stegvis.",
    "unreachable": "deltagaren har blockerat Stegvis i Telegram, svaret skulle aldrig komma fram.",
    "invited": "deltagaren har inte gått med i Stegvis ännu.",
    "finished": "deltagaren har avslutat programmet och får inga meddelanden från Stegvis.",
    "not_yours": "deltagaren är inte din.",
    "gone": "deltagaren finns inte längre i Stegvis.",
}


def data(participant_id: int, reply: str) -> str:
    return f"{PREFIX}:{participant_id}:{reply}"


def quick_reply_buttons(participant_id: int) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(Button(LABELS[reply], data(participant_id, reply)) for reply in row) for row in ROWS)


@dataclass(frozen=True)
class Pressed:
    participant_id: int
    reply: str


class QuickReplyPress(Filter):
    """A quick-reply button's press: hands the handler what it names, or None for a broken one."""

    async def __call__(self, callback: CallbackQuery) -> bool | dict[str, Any]:
        if not (callback.data or "").startswith(f"{PREFIX}:"):
            return False
        _prefix, pid, reply = ([*callback.data.split(":"), "", ""])[:3]  # type: ignore[union-attr]
        pressed = Pressed(int(pid), reply) if pid.isdigit() and reply in QUICK_REPLIES else None
        return {"pressed": pressed}


async def quick_reply(callback: CallbackQuery, bot: Bot, stegvis: Stegvis, caseworker_id: int, pressed: Pressed | None) -> None:
    from babel.dates import format_datetime

    from bot.features.caseworker_messages.services import send_reply
    from bot.features.digest.content import LANGUAGE_NAMES
    from bot.services import Actor, ServiceError
    from storage.models import Participant

    if pressed is None:
        return await _quietly(callback.answer(OLD_BUTTON, show_alert=True))
    settings, now = stegvis.settings, stegvis.clock.now()
    actor = Actor("caseworker", f"caseworker {caseworker_id}", caseworker_id)
    async with stegvis.database.sessions() as session:
        found = (await session.execute(select(Participant.name, Participant.language, Participant.caseworker_id, Participant.status).where(Participant.id == pressed.participant_id))).first()
        try:
            sent = await send_reply(session, actor, settings, participant_id=pressed.participant_id, reply=pressed.reply, text=None, at_once=False, now=now)
        except ServiceError as error:
            await session.rollback()
            log.info("a quick reply from caseworker %d was refused: %s", caseworker_id, error)
            return await _quietly(callback.answer(NOT_SENT.format(why=WHY[_why_not(found, caseworker_id)]), show_alert=True))
        await session.commit()
    assert found is not None  # send_reply found them
    name, language = found.name.split()[0], LANGUAGE_NAMES.get(found.language or "", found.language or "")
    text = stegvis.catalogs.texts(found.language or SOURCE_LANGUAGE).gettext(QUICK_REPLIES[pressed.reply])
    said = SENT.format(name=name, id=pressed.participant_id, language=language, text=text)
    if sent.held:
        said += " " + HELD.format(at=format_datetime(sent.goes_out_at.astimezone(settings.tz), "d MMM 'kl.' HH:mm", locale="sv"))
    await _quietly(callback.answer(LABELS[pressed.reply]))
    if callback.message is not None:
        # Taken away: one tap, one reply (another one is a `stegvis reply` away).
        await _quietly(bot.edit_message_reply_markup(chat_id=callback.message.chat.id, message_id=callback.message.message_id, reply_markup=None))
        await _quietly(bot.send_message(callback.message.chat.id, said))


def _why_not(participant: Row[Any] | None, caseworker_id: int) -> str:
    if participant is None:
        return "gone"
    if participant.caseworker_id != caseworker_id:
        return "not_yours"
    return str(participant.status) if participant.status in WHY else "gone"


async def other_button(callback: CallbackQuery) -> None:
    """Any other button in a caseworker's chat (none of ours puts one there): nothing happens."""
    await _quietly(callback.answer(OLD_BUTTON, show_alert=True))


async def _quietly(request: Any) -> None:
    try:
        await request
    except TelegramAPIError as error:
        log.info("Telegram refused a request in a caseworker's chat: %s", error)
