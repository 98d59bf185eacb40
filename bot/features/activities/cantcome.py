"""«Jag kan inte komma» from the menu (/cantcome): pick one of the next sessions, then why and a few words.

/cantcome lists the participant's next session days (at most six, within four weeks) of the
activities they are enrolled in that day, not cancelled and not begun, as buttons with the day
and time in their language («tisdag 16 februari 10:00», and the activity's name when they have
more than one activity). A press records ``activity_report`` {activity_id, date, answer:
"not_coming", coming: false, source: "menu"}, the same event the morning question's *Nej*
records, and starts the ``coming_today`` flow at its ``reason`` step (one of its `entries`) with a
menu ref (``12m9901``): the same reasons and texts, then the optional few words, each event also
``source: "menu"``. The morning question of that day then leaves that session out, or is not
sent at all (`planning.Morning.said_no`).

The buttons' data is ``cantcome:<ref>`` (e.g. ``cantcome:12d9901``). A press on one whose session
has begun, was cancelled, or is not theirs (forged, or they have left) gets a short pop-up and
changes nothing. The list asks nothing of the flow engine: the open question, if any, stays open.
Someone who has not joined yet (no consent) is asked the open question again instead.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aiogram import Router
from aiogram.filters import Command, Filter
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.conversation.core import Conversations
from bot.conversation.turn import Turn
from bot.features.activities.planning import MENU_AHEAD
from bot.features.activities.question import (
    CANCELLED, FLOW, MENU, NOT_YOURS, REPORT, STARTED, ActivityCalendar, QuestionRefs, calendars_of, load_calendars, parse_reference, reference,
)
from flows.engine import Button, FlowEvent, OutgoingMessage
from locales import N_, Texts
from locales.format import format_clock, format_day
from storage.models import ParticipantStatus

COMMAND = "cantcome"
DESCRIPTION = N_("Jag kan inte komma")
PREFIX = "cantcome:"
AT_MOST = 6  # buttons on one message
WHICH = N_("Vilken träff kan du inte komma till?")
NONE_AHEAD = N_("Du har inga träffar de närmaste veckorna. Ha en fin dag!")
BUTTON = N_("{day} {time}")
BUTTON_NAMED = N_("{day} {time} · {activity}")
STEP = "reason"  # where the menu's run begins: the morning question's "why?"


def upcoming(calendars: dict[int, ActivityCalendar], participant_id: int, now: datetime, tz: ZoneInfo) -> list[tuple[ActivityCalendar, datetime]]:
    """The participant's next session days (activity, first start), in time order, at most six."""
    today = now.astimezone(tz).date()
    found = []
    for calendar in calendars.values():
        for n in range(MENU_AHEAD.days + 1):
            day = today + timedelta(days=n)
            starts_at = calendar.starts_at(day, tz)
            if starts_at is not None and starts_at > now and day not in calendar.cancelled and calendar.enrolled(participant_id, day):
                found.append((calendar, starts_at))
    return sorted(found, key=lambda found: (found[1], found[0].id))[:AT_MOST]


def label(texts: Texts, calendar: ActivityCalendar, starts_at: datetime, tz: ZoneInfo, *, named: bool) -> str:
    values = {"day": format_day(starts_at, texts.language, tz), "time": format_clock(starts_at, texts.language, tz)}
    return texts.gettext(BUTTON_NAMED, activity=calendar.name, **values) if named else texts.gettext(BUTTON, **values)


class Picked(Filter):
    """A press on a button of the /cantcome list. (Async: aiogram runs synchronous filters in a thread.)"""

    async def __call__(self, callback: CallbackQuery) -> bool:
        return (callback.data or "").startswith(PREFIX)


def create_router(refs: QuestionRefs, tz: ZoneInfo) -> Router:
    async def cant_come(message: Message, turn: Turn, conversations: Conversations) -> None:
        state = await turn.tidy()
        if turn.status != ParticipantStatus.ACTIVE:
            # Not joined yet (no consent): nothing is recorded about activities; the open question again.
            variables = await conversations.variables_for(turn.participant, state.top, turn.texts)
            return turn.take(conversations.engine.repeat(state, language=turn.language, variables=variables))
        calendars = await calendars_of(conversations.store, {turn.participant.id})
        found = upcoming(calendars, turn.participant.id, turn.now, tz)
        if not found:
            return turn.say(turn.texts.gettext(NONE_AHEAD))
        named = len({calendar.id for calendar, _ in found}) > 1
        rows = tuple(
            (Button(label(turn.texts, calendar, starts_at, tz, named=named), PREFIX + reference(calendar.id, starts_at.astimezone(tz).date())),)
            for calendar, starts_at in found
        )
        turn.replies.append(OutgoingMessage(turn.texts.gettext(WHICH), rows))

    async def picked(callback: CallbackQuery, turn: Turn, conversations: Conversations) -> None:
        about = parse_reference((callback.data or "")[len(PREFIX):])
        if about is None or (callback.data or "")[len(PREFIX):] != reference(*about) or turn.status != ParticipantStatus.ACTIVE:
            return turn.notice(turn.texts.gettext(NOT_YOURS))
        activity_id, day = about
        calendar = (await load_calendars(conversations.store, {activity_id})).get(activity_id)
        if calendar is None or not calendar.enrolled(turn.participant.id, day) or calendar.starts_at(day, tz) is None:
            return turn.notice(turn.texts.gettext(NOT_YOURS))  # forged, or no longer theirs: existence is not told
        if day in calendar.cancelled:
            return turn.notice(turn.texts.gettext(CANCELLED))
        starts_at = calendar.starts_at(day, tz)
        if starts_at is not None and starts_at <= turn.now:
            return turn.notice(turn.texts.gettext(STARTED))
        state = await turn.tidy()
        ref = reference(activity_id, day, source=MENU)
        # What was asked about this session before (the morning question) is superseded.
        over = state.without(refs.same_thing(ref))
        variables = {**conversations.variables(turn.participant), **await refs.variables(conversations.store, turn.participant, ref, turn.texts)}
        sprint = conversations.engine.start(FLOW, language=turn.language, variables=variables, at=STEP, ref=ref, over=over)
        said_no = FlowEvent(REPORT, {"answer": "not_coming", "coming": False}, FLOW, None, ref)
        turn.take(replace(sprint, events=(said_no, *sprint.events)))
        turn.chosen = pressed_label(callback) or turn.chosen  # the list stays on screen with the choice under it

    router = Router(name="activities-cantcome")
    router.message.register(cant_come, Command(COMMAND))
    router.callback_query.register(picked, Picked())
    return router


def pressed_label(callback: CallbackQuery) -> str | None:
    message = callback.message
    markup = message.reply_markup if isinstance(message, Message) else None
    if not isinstance(markup, InlineKeyboardMarkup):
        return None
    return next((b.text for row in markup.inline_keyboard for b in row if b.callback_data == callback.data), None)
