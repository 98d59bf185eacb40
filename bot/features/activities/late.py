"""An answer to "coming today?" given after the session began: still recorded, marked ``late``, with a kind reply.

This router comes before the conversation core's catch-all and takes only presses on the
question's buttons whose session has begun and whose question is still open (the right
participant, today, not cancelled), and the few words typed for such a question. Everything else about the question (a press in time, an old
or forged press, a press after a cancellation) is the core's, with `question.QuestionRefs`.
The press is answered by the flow engine as the core would answer it; the events are marked
``late: true``, the run ends there (no "why?" for a session already going on) and the reply is
«Tack. Träffen har redan börjat; vi har noterat ditt svar.». Few words typed late are answered
as in time (the flow's thanks), their event marked late. In a morning message about two sessions
the other session's row stays (`rows.py`). A run started from the menu is never late: they said
they could not come before the session began.
"""

from __future__ import annotations

from dataclasses import replace

from aiogram import Router
from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Message

from bot.conversation.core import Conversations
from bot.conversation.turn import Turn
from bot.features.activities.question import FLOW, LATE, QuestionRefs
from bot.features.activities.rows import keep_other_rows
from flows.engine import ButtonAddress, FlowEvent, OutgoingMessage, TextInput


class LateAnswer(Filter):
    """A press on the question of a session that has begun, and that still answers."""

    def __init__(self, refs: QuestionRefs) -> None:
        self.refs = refs

    async def __call__(self, callback: CallbackQuery, turn: Turn, conversations: Conversations) -> bool:
        address = ButtonAddress.parse(callback.data or "")
        if address is None or address.flow != FLOW or address.ref is None or not conversations.has_step(address):
            return False
        # A press that no longer answers is the core's to explain.
        return await self.refs.late(conversations.store, turn.participant, address.ref, turn.now)


class LateWords(Filter):
    """A typed text (not a command) while the open question is the question of a session that has begun."""

    def __init__(self, refs: QuestionRefs) -> None:
        self.refs = refs

    async def __call__(self, message: Message, turn: Turn, conversations: Conversations) -> bool:
        if message.text is None or message.text.startswith("/"):
            return False
        top = (await turn.tidy()).top  # questions that no longer answer are dropped first
        if top is None or top.flow != FLOW or top.ref is None:
            return False
        return await self.refs.late(conversations.store, turn.participant, top.ref, turn.now)


def _late(events: tuple[FlowEvent, ...]) -> tuple[FlowEvent, ...]:
    return tuple(replace(event, payload={**event.payload, "late": True}) for event in events)


def create_router(refs: QuestionRefs) -> Router:
    async def late_answer(callback: CallbackQuery, turn: Turn, conversations: Conversations) -> None:
        data = callback.data or ""
        address = ButtonAddress.parse(data)
        assert address is not None and address.ref is not None  # LateAnswer checked
        await turn.tidy()
        variables = {**conversations.variables(turn.participant), **await refs.variables(conversations.store, turn.participant, address.ref, turn.texts)}
        same_thing = refs.same_thing(address.ref)
        sprint = conversations.engine.answer_detached(turn.state, data, language=turn.language, variables=variables, same_thing=same_thing)
        if not sprint.events:
            return turn.notice(sprint.notice or "")  # already answered, or a forged option: nothing changes
        reply = (OutgoingMessage(turn.texts.gettext(LATE)),)
        turn.take(replace(sprint, state=sprint.state.without(same_thing), events=_late(sprint.events), messages=reply))
        keep_other_rows(turn, callback)  # a message about two sessions keeps the other one's row

    async def late_words(message: Message, turn: Turn, conversations: Conversations) -> None:
        state = await turn.tidy()
        variables = await conversations.variables_for(turn.participant, state.top, turn.texts)
        sprint = conversations.engine.resume(state, TextInput(message.text or ""), language=turn.language, variables=variables)
        turn.take(replace(sprint, events=_late(sprint.events)))

    router = Router(name="activities-late")
    router.callback_query.register(late_answer, LateAnswer(refs))
    router.message.register(late_words, LateWords(refs))
    return router
