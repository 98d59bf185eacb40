"""/start, /help, /language and /stop for participants: they work at any time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from aiogram import Router
from aiogram.filters import Command, CommandStart
from aiogram.types import Message
from sqlalchemy import select

from bot.conversation.turn import Turn
from bot.registry import MenuCommand
from flows.engine import IDLE
from locales import N_, Texts
from storage.models import Caseworker, ParticipantStatus

if TYPE_CHECKING:
    from bot.app import Stegvis


async def start(message: Message, turn: Turn, stegvis: Stegvis) -> None:
    if (await turn.tidy()).waiting:
        turn.take(stegvis.engine.repeat(turn.state, language=turn.language, variables=stegvis.variables(turn.participant)))
    elif turn.status == ParticipantStatus.INVITED:
        # Declined earlier, or never finished: onboarding from the top, their language first.
        turn.take(stegvis.engine.start("onboarding", language=turn.participant.language, variables=stegvis.variables(turn.participant)))
    else:
        turn.say(turn.texts.gettext("Du är redan med i Stegvis. Skriv /help om du behöver hjälp."))


# /help: what Stegvis does, a line per entry of the command menu (whatever features registered
# there, in its order), and who to ask.
HELP_INTRO = N_("Stegvis påminner dig om möten och frågar hur det går. Svara med knapparna.")
HELP_LINE = N_("{command} – {description}")
HELP_CONTACT = N_("Frågor? Kontakta din handläggare {caseworker}.")
NOT_IN_HELP = frozenset({"start", "help"})  # what /help is, and what they are already past


def help_text(texts: Texts, menu: Sequence[MenuCommand], caseworker: str) -> str:
    entries = [entry for entry in sorted(menu, key=lambda e: e.order) if entry.command not in NOT_IN_HELP]
    lines = [texts.gettext(HELP_LINE, command="/" + entry.command, description=texts.gettext(entry.description)) for entry in entries]
    return "\n".join((texts.gettext(HELP_INTRO), *lines, texts.gettext(HELP_CONTACT, caseworker=caseworker)))


async def help_(message: Message, turn: Turn, stegvis: Stegvis) -> None:
    await turn.tidy()
    rows = await stegvis.store.fetch(select(Caseworker.name).where(Caseworker.id == turn.participant.caseworker_id))
    turn.say(help_text(turn.texts, stegvis.features.menu, rows[0][0] if rows else ""))
    turn.take(stegvis.engine.repeat(turn.state, language=turn.language, variables=stegvis.variables(turn.participant)))


async def language(message: Message, turn: Turn, stegvis: Stegvis) -> None:
    engine, state = stegvis.engine, await turn.tidy()
    flow = engine.flow_of(state.top) if state.top is not None else None  # the version the open question is on
    step = flow.steps.get(state.step or "") if flow else None
    variables = stegvis.variables(turn.participant)
    if step is not None and step.language_picker:  # the open question already is the language choice
        turn.take(engine.repeat(state, language=turn.language, variables=variables))
    else:
        # A question left open (the privacy notice during onboarding) is asked again after the choice.
        turn.take(engine.start("language", language=turn.language, variables=variables, over=state))


async def stop(message: Message, turn: Turn) -> None:
    turn.set_participant(status=ParticipantStatus.STOPPED)
    turn.record("participant_stopped")
    turn.set_state(IDLE)
    turn.say(turn.texts.gettext("Du får inga fler meddelanden från Stegvis. Skriv /start om du vill börja igen."))


def create_router() -> Router:
    router = Router(name="commands")
    router.message.register(start, CommandStart())
    router.message.register(help_, Command("help"))
    router.message.register(language, Command("language"))
    router.message.register(stop, Command("stop"))
    return router
