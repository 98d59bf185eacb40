"""Carrying out what the flow engine decided: record state and events, then send the messages.

Recording comes first and is committed before anything is sent, so a participant's answer is
never lost to a failed send.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession

from flows.engine import OutgoingMessage, Sprint, State
from storage import repositories as repo
from storage.models import ConsentAnswer, Participant, ParticipantStatus

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
    """Store the sprint's events and new state, and what they change about the participant."""
    for event in sprint.events:
        await repo.append_event(session, event.type, participant.id, event.payload, flow=event.flow, step=event.step)
        if event.type == "language_chosen":
            participant.language = event.payload["language"]
        elif event.type == "consent":
            answer = ConsentAnswer(event.payload["answer"])
            await repo.record_consent(session, participant.id, str(event.payload["notice_version"]), answer)
            if answer == ConsentAnswer.AGREED:
                participant.status = ParticipantStatus.ACTIVE
    state = sprint.state
    await repo.save_conversation(session, participant.id, state.flow, state.step, state.data)


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


async def carry_out(bot: Bot, session: AsyncSession, participant: Participant, sprint: Sprint) -> bool:
    await record(session, participant, sprint)
    await session.commit()
    return await send(bot, session, participant, sprint.messages)
