"""Carrying out what the flow engine decided: record state and events, then send the messages.

Recording comes first and is committed before anything is sent, so a participant's answer is
never lost to a failed send.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.reminders.messages import REMINDER_FLOW, parse_reference
from flows.engine import FlowEvent, OutgoingMessage, Sprint, State
from storage import appointments as appointment_store
from storage import repositories as repo
from storage.models import Appointment, ConsentAnswer, Participant, ParticipantStatus, utcnow

log = logging.getLogger(__name__)

# In the conversation data of a flow started by a command (/language): the state of the question it
# interrupted, to be asked again when that flow ends.
INTERRUPTED = "interrupted"


async def load_state(session: AsyncSession, participant: Participant) -> State:
    conversation = await repo.load_conversation(session, participant.id)
    if conversation is None:
        return State()
    return State(conversation.flow, conversation.step, dict(conversation.data or {}))


def interrupt(sprint: Sprint, state: State) -> Sprint:
    """`sprint` starts a flow while `state` waits on a question: keep that question for later."""
    if not state.waiting:
        return sprint
    data = {**sprint.state.data, INTERRUPTED: state.to_dict()}
    return replace(sprint, state=replace(sprint.state, data=data))


def interrupted(state: State) -> State | None:
    """The question the current flow interrupted, if any."""
    raw = state.data.get(INTERRUPTED)
    return State.from_dict(raw) if isinstance(raw, dict) else None


async def record(session: AsyncSession, participant: Participant, sprint: Sprint) -> None:
    """Store the sprint's events and new state, and what they change about the participant.

    Events of a run tied to an appointment are stored with its ``appointment_id`` and ``version``.
    ``appointment_answer`` sets the appointment's latest answer; every other appointment event
    (a reason, the participant's short text) lives in the append-only event log only.
    """
    now = utcnow()
    for event in sprint.events:
        payload = _payload(event)
        await repo.append_event(session, event.type, participant.id, payload, flow=event.flow, step=event.step)
        if event.type == "language_chosen":
            participant.language = event.payload["language"]
        elif event.type == "consent":
            answer = ConsentAnswer(event.payload["answer"])
            await repo.record_consent(session, participant.id, str(event.payload["notice_version"]), answer)
            if answer == ConsentAnswer.AGREED:
                participant.status = ParticipantStatus.ACTIVE
        elif event.type == "appointment_answer":
            await _set_appointment_answer(session, participant, payload, now)
    if sprint.keep_state:
        return  # a notice that asks nothing: the open question stays open
    state = sprint.state
    if not sprint.events and state == await load_state(session, participant):
        return  # nothing moved (a repeated question, an idle reply): no write on the hot path
    await repo.save_conversation(session, participant.id, state.flow, state.step, state.data)


def _payload(event: FlowEvent) -> dict[str, Any]:
    """The event's payload as stored: a run's ref becomes the appointment's id and version."""
    if event.ref is None:
        return event.payload
    booking = parse_reference(event.ref) if event.flow == REMINDER_FLOW else None
    if booking is None:
        return {"ref": event.ref, **event.payload}
    return {"appointment_id": booking[0], "version": booking[1], **event.payload}


async def _set_appointment_answer(session: AsyncSession, participant: Participant, payload: dict[str, Any], now: datetime) -> None:
    answer, appointment_id = payload.get("answer"), payload.get("appointment_id")
    if answer not in appointment_store.ANSWERS or appointment_id is None:
        log.warning("appointment_answer %r for appointment %r is not one of %s: kept in the event log only", answer, appointment_id, appointment_store.ANSWERS)
        return
    appointment = await session.get(Appointment, appointment_id)
    if appointment is None or appointment.participant_id != participant.id:
        log.warning("participant %s answered appointment %s, which is not theirs: kept in the event log only", participant.id, appointment_id)
        return
    # Only while that booking is current, booked and ahead: a move or the start in between wins.
    await appointment_store.set_answer(session, appointment_id, answer, version=payload["version"], now=now)


def keyboard(message: OutgoingMessage) -> InlineKeyboardMarkup | None:
    if not message.buttons:
        return None
    rows = [[InlineKeyboardButton(text=b.label, callback_data=b.data) for b in row] for row in message.buttons]
    return InlineKeyboardMarkup(inline_keyboard=rows)


async def send(bot: Bot, session: AsyncSession, participant: Participant, messages: Sequence[OutgoingMessage]) -> bool:
    """Send in order; False when the participant has blocked the bot (they are then unreachable)."""
    for message in messages:
        try:
            await _send_one(bot, participant.telegram_chat_id, message)
        except TelegramForbiddenError:
            await mark_unreachable(session, participant)
            return False
    return True


async def _send_one(bot: Bot, chat_id: int | None, message: OutgoingMessage) -> None:
    assert chat_id is not None
    try:
        await bot.send_message(chat_id, message.text, reply_markup=keyboard(message))
    except TelegramRetryAfter as error:
        # Answers to a person's own message are few; waiting once is better than dropping one.
        await asyncio.sleep(error.retry_after)
        await bot.send_message(chat_id, message.text, reply_markup=keyboard(message))


async def mark_unreachable(session: AsyncSession, participant: Participant) -> None:
    log.info("participant %s blocked the bot: marked unreachable", participant.id)
    if participant.status != ParticipantStatus.STOPPED:
        # A stopped participant stays stopped: unblocking must not start the messages again.
        participant.status = ParticipantStatus.UNREACHABLE
    await repo.append_event(session, "participant_unreachable", participant.id)
    await session.commit()


async def reply_to_chat(bot: Bot, chat_id: int, text: str) -> None:
    """A message to someone we keep no record of (no participant behind the chat)."""
    try:
        await bot.send_message(chat_id, text)
    except (TelegramForbiddenError, TelegramBadRequest) as error:
        log.info("could not answer an unknown chat: %s", error.message)


async def carry_out_press(callback: CallbackQuery, bot: Bot, session: AsyncSession, participant: Participant, sprint: Sprint) -> None:
    """A button press: record it, answer the press, show the choice under the question, send what follows."""
    await record(session, participant, sprint)
    await session.commit()
    await callback.answer(sprint.notice)
    message = callback.message
    if sprint.chosen and isinstance(message, Message) and message.text:
        # Keep the question on screen with the answer under it, and take the buttons away.
        try:
            await message.edit_text(f"{message.text}\n\n✅ {sprint.chosen}", reply_markup=None)
        except TelegramBadRequest as error:
            log.info("could not mark the answered question: %s", error.message)
        except TelegramForbiddenError:
            return await mark_unreachable(session, participant)  # blocked the bot right after pressing
    await send(bot, session, participant, sprint.messages)


async def carry_out(bot: Bot, session: AsyncSession, participant: Participant, sprint: Sprint) -> bool:
    await record(session, participant, sprint)
    await session.commit()
    return await send(bot, session, participant, sprint.messages)
