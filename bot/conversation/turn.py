"""One update of a participant as one unit of work: handlers decide, `finish` commits once, then sends.

A handler never writes or sends itself: it tells the turn what the update changes (`take` a
sprint of the engine, `record` an event, `set_participant`, `set_state`) and what to answer
(`say`, `notice`). The turn middleware then calls `finish`: the unit of work is committed (the
answer is stored before the bot replies), and only then is the press answered, the answered
question marked and the messages sent. A commit that fails is answered with an apology in the
participant's language, never silently dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramForbiddenError
from aiogram.types import CallbackQuery, Message, TelegramObject, Update

from bot.conversation.core import Conversations, stored_form
from bot.telegram.rendering import answered, keyboard
from flows.engine import OutgoingMessage, Sprint, State
from locales import N_, Texts
from storage.models import ParticipantStatus
from storage.writer import Changes, CommitFailed, ParticipantRow

log = logging.getLogger(__name__)

APOLOGY = N_("Något gick fel, och jag kunde inte spara det. Försök igen om en stund.")


class Turn:
    def __init__(self, conversations: Conversations, participant: ParticipantRow, texts: Texts, now: datetime) -> None:
        self.conversations = conversations
        self.participant = participant
        self.state = State.from_dict(participant.conversation)
        self._tidied = False
        # What the features' ref rules said about refs during this update (see Conversations.tidy).
        self.closed_refs: dict[tuple[str, str], str | None] = {}
        self.texts = texts
        self.now = now
        self.changes = Changes(participant.id, now)
        self.replies: list[OutgoingMessage] = []
        self.notice_text: str | None = None
        self.alert = False
        self.chosen: str | None = None
        self.pressed_now: OutgoingMessage | None = None  # what the pressed message reads from now on

    # ---- deciding ------------------------------------------------------------------------------

    @property
    def language(self) -> str:
        return self.texts.language.code

    @property
    def status(self) -> ParticipantStatus:
        return ParticipantStatus(self.changes.participant.get("status", self.participant.status))

    async def tidy(self) -> State:
        """The state without questions whose thing is over (cancelled, or past),
        so they are never asked again; done once, when a handler is about to use the state."""
        if not self._tidied:
            self._tidied = True
            kept = await self.conversations.tidy(self.participant, self.state, self.now, self.closed_refs)
            if kept != self.state:
                self.set_state(kept)
        return self.state

    def take(self, sprint: Sprint) -> None:
        """What the engine decided: its events and state into the unit of work, its messages to send."""
        self.conversations.add_sprint(self.changes, self.participant, sprint, self.state)
        if not sprint.keep_state:
            self.state = sprint.state
        self.replies.extend(sprint.messages)
        self.chosen = sprint.chosen or self.chosen
        # A several-choice question drawn again with its ticks (the engine's `Sprint.update`).
        self.pressed_now = sprint.update or self.pressed_now
        if sprint.notice is not None:
            self.notice_text = sprint.notice

    def say(self, text: str) -> None:
        self.replies.append(OutgoingMessage(text))

    def notice(self, text: str, *, alert: bool = False) -> None:
        """The short pop-up that answers a button press."""
        self.notice_text, self.alert = text, alert

    def show_pressed(self, message: OutgoingMessage) -> None:
        """What the pressed message reads from now on, text and buttons, instead of the question with
        the answer under it and no buttons: a message asking several things keeps the others' buttons."""
        self.pressed_now = message

    def record(self, event_type: str, payload: dict[str, Any] | None = None) -> None:
        self.changes.event(event_type, payload)

    def set_participant(self, **columns: Any) -> None:
        self.changes.set_participant(**columns)

    def set_state(self, state: State) -> None:
        self.state = state
        self.changes.conversation = stored_form(state)

    # ---- carrying out, once, by the turn middleware -------------------------------------------

    async def finish(self, bot: Bot, event: TelegramObject) -> None:
        inner = event.event if isinstance(event, Update) else event
        callback = inner if isinstance(inner, CallbackQuery) else None
        if not self.changes.empty:
            try:
                await self.conversations.store.apply(self.changes)
            except CommitFailed:
                log.exception("participant %s: an update could not be stored; they were asked to try again", self.participant.id)
                apology = self.texts.gettext(APOLOGY)
                if callback is not None:
                    await _quietly(callback.answer(apology, show_alert=True))
                await _quietly(bot.send_message(self.participant.telegram_chat_id, apology))
                return
        if callback is not None:
            await _quietly(callback.answer(self.notice_text, show_alert=self.alert))
            message = callback.message
            if (self.chosen or self.pressed_now is not None) and isinstance(message, Message) and message.text:
                # Keep the question on screen with the answer under it, and take the buttons away
                # (or only some of them, or draw it again with its ticks: `pressed_now`).
                shown = self.pressed_now or OutgoingMessage(answered(message.text, self.chosen or ""))
                try:
                    await message.edit_text(shown.text, reply_markup=keyboard(shown))
                except TelegramBadRequest as error:
                    log.info("could not mark the answered question: %s", error.message)
                except TelegramForbiddenError:
                    return await self.blocked()  # blocked the bot right after pressing
        await self.send(bot, self.replies)

    async def send(self, bot: Bot, messages: Sequence[OutgoingMessage]) -> None:
        chat_id = self.participant.telegram_chat_id
        assert chat_id is not None
        for message in messages:
            try:
                await bot.send_message(chat_id, message.text, reply_markup=keyboard(message))
            except TelegramForbiddenError:
                return await self.blocked()

    async def blocked(self) -> None:
        """They blocked the bot: a unit of work of its own, as the update's is already stored."""
        log.info("participant %s blocked the bot: marked unreachable", self.participant.id)
        changes = Changes(self.participant.id, self.conversations.clock.now())
        unreachable(changes, self.status)
        await self.conversations.store.apply(changes)


def unreachable(changes: Changes, status: ParticipantStatus) -> None:
    """Sends to them fail with 403: they are unreachable, and their caseworker is told (an event)."""
    if status not in (ParticipantStatus.STOPPED, ParticipantStatus.FINISHED):
        # A stopped participant stays stopped: unblocking must not start the messages again;
        # a finished one stays finished (their goodbye may be what met the block).
        changes.set_participant(status=ParticipantStatus.UNREACHABLE)
    changes.event("participant_unreachable")


async def _quietly(request: Any) -> None:
    try:
        await request
    except TelegramAPIError as error:
        log.info("Telegram refused an answer: %s", error)
