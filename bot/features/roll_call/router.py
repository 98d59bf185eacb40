"""Leaders on Telegram: linking a chat with a leader's invite, taking the roll call, and /rollcall.

This router comes before the participants' newcomers router (a leader has no participant record,
so the turn middleware hands ``participant=None``), and takes only:

* ``/start <leader code>`` from anyone (a leader's code starts with ``lead-``, a participant's
  never does): a chat that is a participant's cannot become a leader's;
* every update of a chat linked to a leader: the roll call's buttons, /rollcall, and a short
  help for anything else (a leader's chat never runs the participants' flows);
* a roll-call button pressed in a chat that is not a leader's: a polite refusal.

Everything else passes on. There is no `Turn` for a leader: each tap is one unit of work of its
own (`storage.roll_call.attendance_changes` through the hot path's store), committed before the
message is edited, so a tap that is answered is stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command, CommandObject, CommandStart, Filter
from aiogram.types import BotCommand, BotCommandScopeChat, CallbackQuery, InlineKeyboardMarkup, Message, TelegramObject
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.conversation.turn import APOLOGY, Turn
from bot.features.participants.newcomers import BAD_LINK
from bot.features.roll_call.sheet import DAYS_BACK, DONE, OPEN, PREFIX, Address, RollCall, data, load_activities, load_roll_call, next_mark, sheet, summary
from bot.telegram.rendering import keyboard, reply_to_chat
from flows.engine import Button, OutgoingMessage
from locales import N_, SOURCE_LANGUAGE, Texts
from locales.format import format_clock, format_day
from storage import activities as activity_store
from storage import repositories as repo
from storage import roll_call as store
from storage.models import Leader, LeaderActivity
from storage.roll_call import Mark, is_leader_code
from storage.writer import CommitFailed

if TYPE_CHECKING:
    from bot.app import Stegvis

log = logging.getLogger(__name__)

MENU = N_("Upprop")
WELCOME = N_("Hej {name}! Du är ledare för {activities}. Vid varje träff får du uppropet här. /rollcall visar dina upprop.")
HELP = N_("Skriv /rollcall för att se dina upprop.")
LIST = N_("Dina upprop, idag och de senaste 7 dagarna:")
NO_SESSIONS = N_("Du har inga träffar idag eller de senaste 7 dagarna.")
# Why a press changes nothing (a short pop-up in the leader's language).
NOT_YOURS = N_("Det här uppropet hör inte till dina aktiviteter.")
BROKEN = N_("Den här knappen fungerar inte längre.")
TOO_OLD = N_("Det här uppropet är för gammalt för att ändras.")
CANCELLED = N_("Den här träffen är inställd.")
NOT_ENROLLED = N_("Den personen är inte med på den här träffen.")
NOT_A_LEADER = N_("Den här knappen är bara för ledare.")
# Linking refused.
LINK_REFUSED = {
    "expired": N_("Länken har gått ut. Be om en ny."),
    "used": N_("Länken är redan använd. Be om en ny."),
    "chat_taken": N_("Kontot används redan. Fråga din handläggare."),
}
PARTICIPANT_CHAT = N_("Det här kontot används redan av en deltagare och kan inte bli en ledares.")
MAX_LISTED = 30


@dataclass(frozen=True)
class LeaderRow:
    """The leader behind a chat, as a press needs them."""

    id: int
    name: str
    language: str
    activities: frozenset[int]

    @property
    def by(self) -> str:
        return f"leader:{self.id}"


async def leader_by_chat(stegvis: Stegvis, chat_id: int) -> LeaderRow | None:
    rows = await stegvis.store.fetch(
        select(Leader.id, Leader.name, Leader.language, LeaderActivity.activity_id)
        .outerjoin(LeaderActivity, LeaderActivity.leader_id == Leader.id)
        .where(Leader.telegram_chat_id == chat_id)
    )
    if not rows:
        return None
    first = rows[0]
    return LeaderRow(first.id, first.name, first.language or SOURCE_LANGUAGE, frozenset(r.activity_id for r in rows if r.activity_id is not None))


class LeaderChat(Filter):
    """An update from a chat linked to a leader (never a participant's: those have a record)."""

    async def __call__(self, event: TelegramObject, stegvis: Stegvis, participant: Any = None, event_chat: Any = None) -> bool | dict[str, Any]:
        if participant is not None or event_chat is None:
            return False
        leader = await leader_by_chat(stegvis, event_chat.id)
        return {"leader": leader} if leader is not None else False


class LeaderCode(Filter):
    """``/start <code>`` with a leader's code (known or not: a participant's code never looks like one)."""

    async def __call__(self, message: Message, command: CommandObject) -> bool:
        return is_leader_code(command.args)


# ---- linking ---------------------------------------------------------------------------------


async def link(message: Message, command: CommandObject, bot: Bot, stegvis: Stegvis, language_guess: str | None, texts: Texts, participant: Any = None, turn: Turn | None = None) -> None:
    chat_id = message.chat.id
    if participant is not None:
        if turn is not None:
            return turn.say(texts.gettext(PARTICIPANT_CHAT))
        return await reply_to_chat(bot, chat_id, texts.gettext(PARTICIPANT_CHAT))
    catalogs, now = stegvis.catalogs, stegvis.clock.now()
    async with stegvis.database.sessions() as session:
        leader = await store.find_by_code(session, command.args or "")
        if leader is None:
            return await reply_to_chat(bot, chat_id, catalogs.in_all_languages(BAD_LINK, language_guess))
        refusal, stored_language, leader_id, name = None, leader.language, leader.id, leader.name
        if leader.invite_used_at is not None:
            if leader.telegram_chat_id == chat_id:  # their own link again: they are linked already
                return await _welcome(bot, stegvis, session, leader_id, name, stored_language or SOURCE_LANGUAGE, chat_id)
            refusal = "used"
        elif now >= (leader.invite_expires_at or now):
            refusal = "expired"
        else:
            other = await session.scalar(select(Leader.id).where(Leader.telegram_chat_id == chat_id, Leader.id != leader.id))
            if other is not None:
                refusal = "chat_taken"
        if refusal is None:
            language = language_guess or SOURCE_LANGUAGE
            try:
                linked = await store.link_chat(session, leader, chat_id, language, now=now)
                if linked:
                    await repo.append_event(session, "leader_linked", None, {"leader_id": leader_id}, occurred_at=now)
                    await session.commit()
            except IntegrityError:  # another leader took this chat meanwhile
                linked, refusal = False, "chat_taken"
            if linked:
                return await _welcome(bot, stegvis, session, leader_id, name, language, chat_id)
            refusal = refusal or "used"
        await session.rollback()
    first = stored_language or language_guess
    await reply_to_chat(bot, chat_id, catalogs.in_all_languages(LINK_REFUSED[refusal], first))


async def _welcome(bot: Bot, stegvis: Stegvis, session: Any, leader_id: int, name: str, language: str, chat_id: int) -> None:
    texts = stegvis.catalogs.texts(language)
    led = (await store.led_activities(session, [leader_id]))[leader_id]
    names = [a.name for a in (await activity_store.get_activities(session, led)).values()]
    await reply_to_chat(bot, chat_id, texts.gettext(WELCOME, name=name, activities=", ".join(names)))
    try:
        # Their own menu: only /rollcall, never the participants' commands.
        await bot.set_my_commands([BotCommand(command="rollcall", description=texts.gettext(MENU))], scope=BotCommandScopeChat(chat_id=chat_id))
    except TelegramAPIError as error:
        log.info("could not set a leader's menu: %s", error)


# ---- the roll call ---------------------------------------------------------------------------


def _today(stegvis: Stegvis, now: datetime) -> Any:
    return now.astimezone(stegvis.settings.tz).date()


async def tap(callback: CallbackQuery, bot: Bot, stegvis: Stegvis, leader: LeaderRow) -> None:
    texts = stegvis.catalogs.texts(leader.language)
    tz, now = stegvis.settings.tz, stegvis.clock.now()
    today = _today(stegvis, now)

    async def refuse(msgid: str) -> None:
        await _quietly(callback.answer(texts.gettext(msgid), show_alert=True))

    address = Address.parse(callback.data)
    if address is None:
        return await refuse(BROKEN)
    if address.activity_id not in leader.activities:
        return await refuse(NOT_YOURS)  # another activity's roll call, or one they no longer lead
    if address.day > today:
        return await refuse(BROKEN)
    if address.day < today - timedelta(days=DAYS_BACK):
        return await refuse(TOO_OLD)
    roll = await load_roll_call(stegvis.store, address.activity_id, address.day, tz)
    if roll is None or roll.starts_at is None:
        return await refuse(BROKEN)
    if roll.cancelled:
        return await refuse(CANCELLED)
    if address.what == OPEN:
        await _quietly(callback.answer())
        return await _show(callback, sheet(roll, texts, tz))
    if address.what == DONE:
        marks = [Mark(pid, False) for pid in roll.not_yet]
        if marks and not await _store(stegvis, callback, texts, roll, marks, leader, now):
            return
        roll = _with(roll, marks)
        await _quietly(callback.answer())
        return await _show(callback, summary(roll, texts, tz))
    person = roll.person(address.participant_id or 0)
    if person is None:
        return await refuse(NOT_ENROLLED)
    marks = [Mark(person.id, next_mark(person.present))]
    if not await _store(stegvis, callback, texts, roll, marks, leader, now):
        return
    await _quietly(callback.answer())
    message = sheet(_with(roll, marks), texts, tz)
    if isinstance(callback.message, Message):
        try:
            await callback.message.edit_reply_markup(reply_markup=_markup(message))
        except TelegramBadRequest as error:  # e.g. the message was a summary: show the whole sheet
            log.info("roll call: could not edit the buttons (%s); editing the message", error.message)
            await _show(callback, message)


async def _store(stegvis: Stegvis, callback: CallbackQuery, texts: Texts, roll: RollCall, marks: list[Mark], leader: LeaderRow, now: datetime) -> bool:
    changes = store.attendance_changes(stegvis.database.engine, roll.activity_id, roll.day, marks, leader.by, now)
    try:
        await stegvis.store.apply(changes)
    except CommitFailed:
        log.exception("leader %s: a roll-call change could not be stored; they were asked to try again", leader.id)
        await _quietly(callback.answer(texts.gettext(APOLOGY), show_alert=True))
        return False
    return True


def _with(roll: RollCall, marks: list[Mark]) -> RollCall:
    changed = {m.participant_id: m.present for m in marks}
    return replace(roll, people=tuple(replace(p, present=changed.get(p.id, p.present)) for p in roll.people))


def _markup(message: OutgoingMessage) -> InlineKeyboardMarkup | None:
    return keyboard(message)


async def _show(callback: CallbackQuery, message: OutgoingMessage) -> None:
    if not isinstance(callback.message, Message):
        return
    try:
        await callback.message.edit_text(message.text, reply_markup=_markup(message))
    except TelegramBadRequest as error:
        log.info("roll call: could not edit the message: %s", error.message)


async def roll_calls(message: Message, bot: Bot, stegvis: Stegvis, leader: LeaderRow) -> None:
    """/rollcall: the leader's sessions of today and the last 7 days, newest first, as buttons that open them."""
    texts = stegvis.catalogs.texts(leader.language)
    tz, now = stegvis.settings.tz, stegvis.clock.now()
    today = _today(stegvis, now)
    first = today - timedelta(days=DAYS_BACK)
    rolls = await load_activities(stegvis.store, leader.activities, first)
    buttons = []
    for n in range(DAYS_BACK + 1):
        day = today - timedelta(days=n)
        for roll in sorted(rolls.values(), key=lambda r: r.id):
            starts_at = roll.starts_at(day, tz)
            if starts_at is None or day in roll.cancelled:
                continue
            call = roll.on(day, tz)
            mark = "✅" if call.people and not call.not_yet else "⬜"
            label = f"{mark} {roll.name} · {format_day(starts_at, texts.language, tz)} {format_clock(starts_at, texts.language, tz)}"
            buttons.append((starts_at, Button(label, data(roll.id, day, OPEN))))
    buttons.sort(key=lambda entry: entry[0], reverse=True)
    if not buttons:
        return await reply_to_chat(bot, message.chat.id, texts.gettext(NO_SESSIONS))
    listing = OutgoingMessage(texts.gettext(LIST), tuple((button,) for _at, button in buttons[:MAX_LISTED]))
    await bot.send_message(message.chat.id, listing.text, reply_markup=keyboard(listing))


async def leader_help(message: Message, bot: Bot, stegvis: Stegvis, leader: LeaderRow) -> None:
    await reply_to_chat(bot, message.chat.id, stegvis.catalogs.texts(leader.language).gettext(HELP))


async def other_button(callback: CallbackQuery, stegvis: Stegvis, leader: LeaderRow) -> None:
    """A participant's button in a leader's chat (it cannot have come from us): nothing happens."""
    await _quietly(callback.answer(stegvis.catalogs.texts(leader.language).gettext(BROKEN), show_alert=True))


async def not_a_leader(callback: CallbackQuery, stegvis: Stegvis, texts: Texts, language_guess: str | None, participant: Any = None, turn: Turn | None = None) -> None:
    """A roll-call button from a chat that is not a leader's: refused, nothing changes."""
    if turn is not None:
        return turn.notice(texts.gettext(NOT_A_LEADER), alert=True)
    await _quietly(callback.answer(stegvis.catalogs.in_all_languages(NOT_A_LEADER, language_guess), show_alert=True))


async def _quietly(request: Any) -> None:
    try:
        await request
    except TelegramAPIError as error:
        log.info("Telegram refused an answer to a leader: %s", error)


def create_router() -> Router:
    router = Router(name="roll-call")
    router.message.register(link, CommandStart(deep_link=True), LeaderCode())
    router.message.register(roll_calls, Command("rollcall"), LeaderChat())
    router.message.register(leader_help, LeaderChat())
    router.callback_query.register(tap, F.data.startswith(f"{PREFIX}:"), LeaderChat())
    router.callback_query.register(other_button, LeaderChat())
    router.callback_query.register(not_a_leader, F.data.startswith(f"{PREFIX}:"))
    return router
