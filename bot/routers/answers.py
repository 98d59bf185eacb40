"""Button presses, text and everything else a participant sends, handed to the flow engine."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation import carry_out, carry_out_press, interrupted, load_state, send
from flows.engine import DATA_PREFIX, Input, MediaInput, OutgoingMessage, Press, TextInput
from locales import Texts
from storage.models import Participant

if TYPE_CHECKING:
    from bot.app import Stegvis

log = logging.getLogger(__name__)

VOICE_LIKE = {"voice", "audio", "video_note"}


async def press(callback: CallbackQuery, bot: Bot, session: AsyncSession, participant: Participant, texts: Texts, stegvis: Stegvis) -> None:
    state = await load_state(session, participant)
    variables = stegvis.variables(participant)
    back = interrupted(state)
    if back is not None and (callback.data or "").startswith(f"{DATA_PREFIX}:{back.flow}:{back.step}:"):
        state, back = back, None  # a button of the question /language interrupted: answer that one
    sprint = stegvis.engine.resume(state, Press(callback.data or ""), language=texts.language.code, variables=variables)
    if back is not None and not sprint.state.waiting:
        # The flow that interrupted a question has ended: ask that question again, in the new language.
        again = stegvis.engine.repeat(back, language=sprint.language, variables=variables)
        sprint = replace(sprint, state=again.state, messages=sprint.messages + again.messages)
    await carry_out_press(callback, bot, session, participant, sprint)


async def unknown_command(message: Message, bot: Bot, session: AsyncSession, participant: Participant, texts: Texts) -> None:
    await send(bot, session, participant, [OutgoingMessage(texts.gettext("Det kommandot känner jag inte till. Skriv /help."))])


async def text(message: Message, bot: Bot, session: AsyncSession, participant: Participant, texts: Texts, stegvis: Stegvis) -> None:
    await _resume(bot, session, participant, texts, stegvis, TextInput(message.text or ""))


async def anything_else(message: Message, bot: Bot, session: AsyncSession, participant: Participant, texts: Texts, stegvis: Stegvis) -> None:
    kind = "voice" if message.content_type in VOICE_LIKE else str(message.content_type)
    await _resume(bot, session, participant, texts, stegvis, MediaInput(kind))


async def _resume(bot: Bot, session: AsyncSession, participant: Participant, texts: Texts, stegvis: Stegvis, given: Input) -> None:
    state = await load_state(session, participant)
    sprint = stegvis.engine.resume(state, given, language=texts.language.code, variables=stegvis.variables(participant))
    await carry_out(bot, session, participant, sprint)


def create_router() -> Router:
    """A fresh router each time: aiogram lets a router belong to one dispatcher only."""
    router = Router(name="answers")
    router.callback_query.register(press)
    router.message.register(unknown_command, F.text.startswith("/"))
    router.message.register(text, F.text)
    router.message.register(anything_else)
    return router
