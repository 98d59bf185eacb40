"""Every press, text and media of a participant that no feature's router took: handed to the flow engine.

This router comes last. A press on a button of a run tied to a thing (a ref such as ``7v2``) is
first checked with the feature's `RefRule`: if the thing no longer takes answers, a short pop-up
says why and nothing changes; if it does, the question is rebuilt from the button itself and
answered, whatever else has been asked since (`Engine.answer_detached`).
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Message

from bot.conversation.core import Conversations
from bot.conversation.turn import Turn
from flows.engine import BROKEN, ButtonAddress, Input, MediaInput, Press, TextInput
from locales import N_

VOICE_LIKE = {"voice", "audio", "video_note"}
UNKNOWN_COMMAND = N_("Det kommandot känner jag inte till. Skriv /help.")


class IsCommand(Filter):
    """A text that starts with "/". (An async filter: aiogram runs synchronous ones in a thread.)"""

    async def __call__(self, message: Message) -> bool:
        return bool(message.text and message.text.startswith("/"))


class HasText(Filter):
    async def __call__(self, message: Message) -> bool:
        return message.text is not None


async def press(callback: CallbackQuery, turn: Turn, conversations: Conversations) -> None:
    data = callback.data or ""
    address = ButtonAddress.parse(data)
    rule = conversations.ref_rule(data)
    participant, texts = turn.participant, turn.texts
    if rule is not None and (address is None or address.ref is None):
        return turn.notice(texts.gettext(BROKEN))  # we never made such a button for a flow tied to things
    if rule is None or address is None or address.ref is None:
        state = await turn.tidy()
        variables = await conversations.variables_for(participant, state.top, texts)
        return turn.take(conversations.engine.resume(state, Press(data), language=turn.language, variables=variables))
    problem = await conversations.why_closed(participant, address, rule, turn.now, turn.closed_refs)
    if problem is not None:
        return turn.notice(texts.gettext(problem))  # nothing changes, not even the open questions
    await turn.tidy()
    variables = {**conversations.variables(participant), **await rule.variables(conversations.store, participant, address.ref, texts)}
    sprint = conversations.engine.answer_detached(turn.state, data, language=turn.language, variables=variables, same_thing=rule.same_thing(address.ref))
    if sprint.notice is not None and not sprint.events:
        return turn.notice(sprint.notice)  # a forged option: nothing changes, the message stays as it is
    turn.take(sprint)


async def unknown_command(message: Message, turn: Turn) -> None:
    await turn.tidy()
    turn.say(turn.texts.gettext(UNKNOWN_COMMAND))


async def text(message: Message, turn: Turn, conversations: Conversations) -> None:
    await _resume(turn, conversations, TextInput(message.text or ""))


async def anything_else(message: Message, turn: Turn, conversations: Conversations) -> None:
    kind = "voice" if message.content_type in VOICE_LIKE else str(message.content_type)
    await _resume(turn, conversations, MediaInput(kind))


async def _resume(turn: Turn, conversations: Conversations, given: Input) -> None:
    state = await turn.tidy()
    variables = await conversations.variables_for(turn.participant, state.top, turn.texts)
    turn.take(conversations.engine.resume(state, given, language=turn.language, variables=variables))


def create_router() -> Router:
    """A fresh router each time: aiogram lets a router belong to one dispatcher only."""
    router = Router(name="conversation")
    router.callback_query.register(press)
    router.message.register(unknown_command, IsCommand())
    router.message.register(text, HasText())
    router.message.register(anything_else)
    return router
