"""Answers to appointment reminders, tied to one appointment whatever else has been asked since.

A reminder's buttons carry the appointment's reference (``s:reminder:<step>:<option>:7v2``).
A press is checked against the database: the appointment must be this participant's, booked,
still ahead and at the time the message showed (the same version). If so, the question is
rebuilt from the button itself, so the reminder of Tuesday's appointment can still be answered
after Thursday's reminder came in; otherwise a short pop-up says why (cancelled, passed, new time)
and nothing changes.

A question that was open when an older reminder is answered stays open: kept while the older
one asks on (its reason, its short text), and open again when it ends. Reminder questions whose
appointment is over, cancelled or moved are dropped from the conversation when the participant
next writes or presses, so /help never shows them again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from aiogram import Bot, F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation import INTERRUPTED, carry_out, carry_out_press, interrupt, interrupted, load_state
from bot.reminders import messages
from bot.reminders.messages import REMINDER_FLOW, parse_reference
from flows.engine import DATA_PREFIX, IDLE, REF_KEY, Press, Sprint, State, TextInput
from locales import Texts
from storage import repositories as repo
from storage.models import Appointment, Participant, utcnow

if TYPE_CHECKING:
    from bot.app import Stegvis

log = logging.getLogger(__name__)

PREFIX = f"{DATA_PREFIX}:{REMINDER_FLOW}:"


async def _appointment(session: AsyncSession, participant: Participant, ref: str | None) -> tuple[Appointment | None, str | None]:
    """The appointment a ref names, and why its buttons no longer answer (a msgid) or None."""
    booking = parse_reference(ref)
    if booking is None:
        return None, messages.NOT_YOURS
    appointment = await session.get(Appointment, booking[0], populate_existing=True)
    return appointment, messages.closed(appointment, participant, booking[1], utcnow())


async def _prune(state: State, drop: Callable[[State], Awaitable[bool]]) -> State:
    """`state` without the reminder questions that `drop` says go: its own, or one it keeps for later."""
    back = interrupted(state)
    if state.flow == REMINDER_FLOW and await drop(state):
        return await _prune(back, drop) if back is not None else IDLE
    if back is not None:
        kept = await _prune(back, drop)
        if kept != back:
            data = {key: value for key, value in state.data.items() if key != INTERRUPTED}
            if kept.waiting:
                data[INTERRUPTED] = kept.to_dict()
            return replace(state, data=data)
    return state


async def _tidy(session: AsyncSession, participant: Participant) -> State:
    """The stored state, with questions about appointments that are over dropped (and saved so)."""
    state = await load_state(session, participant)

    async def over(question: State) -> bool:
        return (await _appointment(session, participant, question.ref))[1] is not None

    kept = await _prune(state, over)
    if kept != state:
        await repo.save_conversation(session, participant.id, kept.flow, kept.step, kept.data)
        await session.commit()
    return kept


def _variables(stegvis: Stegvis, participant: Participant, appointment: Appointment, texts: Texts) -> dict[str, str]:
    return {**stegvis.variables(participant), **messages.variables(appointment, texts, stegvis.settings.tz)}


async def _without(state: State, appointment_id: int) -> State:
    """`state` without questions about this appointment: the press being answered supersedes them."""

    async def about(question: State) -> bool:
        booking = parse_reference(question.ref)
        return booking is not None and booking[0] == appointment_id

    return await _prune(state, about)


async def press(callback: CallbackQuery, bot: Bot, session: AsyncSession, participant: Participant, texts: Texts, stegvis: Stegvis) -> None:
    data = callback.data or ""
    parts = data.split(":")
    ref = parts[4] if len(parts) == 5 else None
    appointment, problem = await _appointment(session, participant, ref)
    flow = stegvis.engine.flows[REMINDER_FLOW]
    if problem is None and parts[2] not in flow.steps:
        problem = messages.NOT_YOURS
    if problem is not None or appointment is None:
        await callback.answer(texts.gettext(problem or messages.NOT_YOURS))
        return
    stored = await _tidy(session, participant)
    step = parts[2]
    if (stored.flow, stored.step, stored.ref) == (REMINDER_FLOW, step, ref):
        state, other = stored, None
    else:
        # An older message, or another question came in between: the question is the button's own.
        state, other = State(REMINDER_FLOW, step, {REF_KEY: ref}), await _without(stored, appointment.id)
    sprint = stegvis.engine.resume(state, Press(data), language=texts.language.code, variables=_variables(stegvis, participant, appointment, texts))
    if sprint.notice is not None and not sprint.events:
        await callback.answer(sprint.notice)  # a forged option: nothing changes, the message stays as it is
        return
    sprint = _keep_open(sprint, other if other is not None and other.waiting else interrupted(state), carried=other is None)
    await carry_out_press(callback, bot, session, participant, sprint)


def _keep_open(sprint: Sprint, back: State | None, *, carried: bool) -> Sprint:
    """The question that was open before (`back`) is kept while the reminder asks on, and open again after."""
    if back is None or not back.waiting:
        return sprint
    if not sprint.state.waiting:
        return replace(sprint, state=back)  # its message is still on screen: not sent again
    if carried:
        return sprint  # already in the state's data, carried from step to step
    return interrupt(sprint, back)


async def other_press(callback: CallbackQuery, session: AsyncSession, participant: Participant) -> None:
    """Any other button: first drop reminder questions that are over, then the usual routers answer."""
    await _tidy(session, participant)
    raise SkipHandler


async def written(message: Message, bot: Bot, session: AsyncSession, participant: Participant, texts: Texts, stegvis: Stegvis) -> None:
    """Text while a reminder question is open (its short text, or words where a button is wanted)."""
    state = await _tidy(session, participant)
    if state.flow != REMINDER_FLOW or message.text is None or message.text.startswith("/"):
        raise SkipHandler  # commands and everything else: the usual routers, with the question as stored
    appointment, problem = await _appointment(session, participant, state.ref)
    if appointment is None or problem is not None:  # changed since _tidy looked, a moment ago
        raise SkipHandler
    sprint = stegvis.engine.resume(state, TextInput(message.text), language=texts.language.code, variables=_variables(stegvis, participant, appointment, texts))
    sprint = _keep_open(sprint, interrupted(state), carried=True)
    await carry_out(bot, session, participant, sprint)


def create_router() -> Router:
    """A fresh router each time: aiogram lets a router belong to one dispatcher only."""
    router = Router(name="reminders")
    router.callback_query.register(press, F.data.startswith(PREFIX))
    router.callback_query.register(other_press)
    router.message.register(written)
    return router
