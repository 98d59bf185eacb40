"""/start, /help, /language and /stop for participants: they work at any time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiogram import Bot, Router
from aiogram.filters import Command, CommandStart
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation import carry_out, interrupt, load_state, send
from flows.engine import OutgoingMessage
from locales import Texts
from storage import repositories as repo
from storage.models import Participant, ParticipantStatus

if TYPE_CHECKING:
    from bot.app import Stegvis


async def start(message: Message, bot: Bot, session: AsyncSession, participant: Participant, texts: Texts, stegvis: Stegvis) -> None:
    state = await load_state(session, participant)
    if state.waiting:
        sprint = stegvis.engine.repeat(state, language=texts.language.code, variables=stegvis.variables(participant))
    elif participant.status == ParticipantStatus.INVITED:
        sprint = stegvis.onboarding(participant)  # declined earlier, or never finished
    else:
        await send(bot, session, participant, [OutgoingMessage(texts.gettext("Du är redan med i Stegvis. Skriv /help om du behöver hjälp."))])
        return
    await carry_out(bot, session, participant, sprint)


async def help_(message: Message, bot: Bot, session: AsyncSession, participant: Participant, texts: Texts, stegvis: Stegvis) -> None:
    caseworker = await repo.get_caseworker(session, participant.caseworker_id)
    help_text = texts.gettext(
        "Stegvis påminner dig om möten och frågar hur det går. Svara med knapparna.\n"
        "/language – byt språk\n/stop – stoppa meddelanden\n"
        "Frågor? Kontakta din handläggare {caseworker}.",
        caseworker=caseworker.name if caseworker else "",
    )
    state = await load_state(session, participant)
    question = stegvis.engine.repeat(state, language=texts.language.code, variables=stegvis.variables(participant))
    await send(bot, session, participant, [OutgoingMessage(help_text), *question.messages])


async def language(message: Message, bot: Bot, session: AsyncSession, participant: Participant, texts: Texts, stegvis: Stegvis) -> None:
    state = await load_state(session, participant)
    variables = stegvis.variables(participant)
    flow = stegvis.engine.flows.get(state.flow or "")
    step = flow.steps.get(state.step or "") if flow else None
    if step is not None and step.language_picker:  # the open question already is the language choice
        sprint = stegvis.engine.repeat(state, language=texts.language.code, variables=variables)
    else:
        # A question left open (the privacy notice during onboarding) is asked again after the choice.
        sprint = interrupt(stegvis.engine.start("language", language=texts.language.code, variables=variables), state)
    await carry_out(bot, session, participant, sprint)


async def stop(message: Message, bot: Bot, session: AsyncSession, participant: Participant, texts: Texts) -> None:
    participant.status = ParticipantStatus.STOPPED
    await repo.append_event(session, "participant_stopped", participant.id)
    await repo.save_conversation(session, participant.id, None, None, {})
    await session.commit()
    await send(bot, session, participant, [OutgoingMessage(texts.gettext("Du får inga fler meddelanden från Stegvis. Skriv /start om du vill börja igen."))])


def create_router() -> Router:
    """A fresh router each time: aiogram lets a router belong to one dispatcher only."""
    router = Router(name="commands")
    router.message.register(start, CommandStart())
    router.message.register(help_, Command("help"))
    router.message.register(language, Command("language"))
    router.message.register(stop, Command("stop"))
    return router
