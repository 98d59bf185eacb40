"""/mydata, and what a finished participant gets when they write.

/mydata works for every participant with a record (active, stopped, finished, not yet joined):
it records ``data_copy_requested``, which the caseworker's digest shows under *needs action*
with the command that makes the copy, and tells the participant so in their language. A
finished participant's other messages and presses get one line saying their time in Stegvis is
over; an erased one has no record any more and is a stranger to the bot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiogram import F, Router
from aiogram.filters import Command, MagicData
from aiogram.types import CallbackQuery, Message

from bot.conversation.turn import Turn
from locales import N_
from storage.models import ParticipantStatus

if TYPE_CHECKING:
    from bot.app import Stegvis

COMMAND = "mydata"
DESCRIPTION = N_("Mina uppgifter")
REQUESTED = "data_copy_requested"
CONFIRM = N_("Tack! Din handläggare får veta att du vill ha en kopia av dina uppgifter i Stegvis och ger den till dig.")
FINISHED = N_("Din tid i Stegvis är slut. Har du frågor, kontakta din handläggare. Skriv /mydata om du vill ha en kopia av dina uppgifter.")
ASKS_AGAIN = (ParticipantStatus.ACTIVE, ParticipantStatus.INVITED)


def create_mydata_router() -> Router:
    async def mydata(message: Message, turn: Turn, stegvis: Stegvis) -> None:
        turn.record(REQUESTED, {"language": turn.language})
        turn.say(turn.texts.gettext(CONFIRM))
        if turn.status in ASKS_AGAIN:  # a question left open is asked again, as after /help
            state = await turn.tidy()
            if state.waiting:
                turn.take(stegvis.engine.repeat(state, language=turn.language, variables=stegvis.variables(turn.participant)))

    router = Router(name="mydata")
    router.message.register(mydata, Command(COMMAND))
    return router


def create_finished_router() -> Router:
    async def finished(message: Message, turn: Turn) -> None:
        turn.say(turn.texts.gettext(FINISHED))

    async def pressed(callback: CallbackQuery, turn: Turn) -> None:
        turn.notice(turn.texts.gettext(FINISHED), alert=True)

    router = Router(name="finished")
    router.message.filter(MagicData(F.participant.status == ParticipantStatus.FINISHED))
    router.callback_query.filter(MagicData(F.participant.status == ParticipantStatus.FINISHED))
    router.message.register(finished)
    router.callback_query.register(pressed)
    return router
