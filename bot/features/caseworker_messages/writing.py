"""«Skriv till min handläggare» (/message): the participant writes a short text or sends a voice note.

/message starts the ``message`` flow over whatever question is open (that question is asked
again after the receipt). While its question is open, this router comes before the conversation
core's catch-all and takes the participant's messages:

* a text (not a command): handed to the engine, which checks the length (1000 characters) and
  emits ``participant_message`` {"text": ...}; the text is stored as written (Telegram already
  drops surrounding blanks), with "language": their code added here;
* a voice note: stored as ``participant_message`` {"voice": {"file_id", "duration"}, "language"}
  (never the audio), then the flow goes on at ``received`` (the receipt);
* anything else (a sticker, a photo, a text of blanks only): the question again with a hint,
  nothing stored.
Someone who has not joined yet is asked their open question again instead.
"""

from __future__ import annotations

from dataclasses import replace

from aiogram import Router
from aiogram.filters import Command, Filter
from aiogram.types import Message

from bot.conversation.core import Conversations
from bot.conversation.turn import Turn
from flows.engine import Sprint, TextInput
from locales import N_
from storage.models import ParticipantStatus

COMMAND = "message"
DESCRIPTION = N_("Skriv till min handläggare")
FLOW = "message"
ASKING = "write"
RECEIVED = "received"
EVENT = "participant_message"
NOT_A_MESSAGE = N_("Jag kan bara skicka text eller ett röstmeddelande till din handläggare.")


class Writing(Filter):
    """A message of a participant while the /message question is the open one (commands excepted)."""

    async def __call__(self, message: Message, turn: Turn) -> bool:
        if message.text is not None and message.text.startswith("/"):
            return False
        top = (await turn.tidy()).top
        return top is not None and (top.flow, top.step) == (FLOW, ASKING)


def with_language(sprint: Sprint, language: str) -> Sprint:
    """The flow's participant_message events with the participant's language, as the digest quotes them."""
    events = tuple(replace(e, payload={**e.payload, "language": language}) if e.type == EVENT else e for e in sprint.events)
    return replace(sprint, events=events)


def create_router() -> Router:
    async def write(message: Message, turn: Turn, conversations: Conversations) -> None:
        state = await turn.tidy()
        variables = await conversations.variables_for(turn.participant, state.top, turn.texts)
        if turn.status != ParticipantStatus.ACTIVE:
            # Not joined yet (no consent): nothing goes to the caseworker; the open question again.
            return turn.take(conversations.engine.repeat(state, language=turn.language, variables=variables))
        # On top of the open question (asked again after the receipt); a /message already open is replaced.
        over = state.without(lambda run: run.flow == FLOW)
        turn.take(conversations.engine.start(FLOW, language=turn.language, variables=conversations.variables(turn.participant), over=over))

    async def written(message: Message, turn: Turn, conversations: Conversations) -> None:
        state = turn.state
        variables = await conversations.variables_for(turn.participant, state.top, turn.texts)
        engine = conversations.engine
        if message.voice is not None:
            voice = {"file_id": message.voice.file_id, "duration": message.voice.duration}
            turn.changes.event(EVENT, {"voice": voice, "language": turn.language}, flow=FLOW, step=ASKING)
            below = state.without(lambda run: run.flow == FLOW)
            return turn.take(engine.start(FLOW, language=turn.language, variables=variables, at=RECEIVED, over=below))
        if message.text is not None and message.text.strip():
            return turn.take(with_language(engine.resume(state, TextInput(message.text), language=turn.language, variables=variables), turn.language))
        turn.say(turn.texts.gettext(NOT_A_MESSAGE))
        turn.take(engine.repeat(state, language=turn.language, variables=variables))

    router = Router(name="caseworker-messages")
    router.message.register(write, Command(COMMAND))
    router.message.register(written, Writing())
    return router
