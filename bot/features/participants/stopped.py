"""Participants who said /stop: nothing more is sent to them until they say /start."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiogram import F, Router
from aiogram.filters import CommandStart, MagicData
from aiogram.types import CallbackQuery, Message

from bot.conversation.turn import Turn
from bot.features.participants.events import status_after_return
from locales import N_
from storage.models import ParticipantStatus

if TYPE_CHECKING:
    from bot.app import Stegvis


STOPPED = N_("Du har stoppat meddelanden från Stegvis. Skriv /start för att börja igen.")


async def start_again(message: Message, turn: Turn, stegvis: Stegvis) -> None:
    status = await status_after_return(stegvis.store, turn.participant.id)
    turn.set_participant(status=status)
    turn.record("participant_resumed")
    if status == ParticipantStatus.INVITED:
        turn.take(stegvis.engine.start("onboarding", language=turn.participant.language, variables=stegvis.variables(turn.participant)))
        return
    turn.say(turn.texts.gettext("Välkommen tillbaka! Du får meddelanden från Stegvis igen."))


async def while_stopped(message: Message, turn: Turn) -> None:
    turn.say(turn.texts.gettext(STOPPED))


async def button_while_stopped(callback: CallbackQuery, turn: Turn) -> None:
    turn.notice(turn.texts.gettext(STOPPED), alert=True)


def create_router() -> Router:
    router = Router(name="stopped")
    router.message.filter(MagicData(F.participant.status == ParticipantStatus.STOPPED))
    router.callback_query.filter(MagicData(F.participant.status == ParticipantStatus.STOPPED))
    router.message.register(start_again, CommandStart())
    router.message.register(while_stopped)
    router.callback_query.register(button_while_stopped)
    return router
