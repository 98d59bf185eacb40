"""Participants who said /stop: nothing more is sent to them until they say /start."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiogram import Bot, F, Router
from aiogram.filters import CommandStart, MagicData
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation import carry_out, send
from flows.engine import OutgoingMessage
from locales import N_, Texts
from storage import repositories as repo
from storage.models import Participant, ParticipantStatus

if TYPE_CHECKING:
    from bot.app import Stegvis


STOPPED = N_("Du har stoppat meddelanden från Stegvis. Skriv /start för att börja igen.")


async def start_again(message: Message, bot: Bot, session: AsyncSession, participant: Participant, texts: Texts, stegvis: Stegvis) -> None:
    participant.status = await repo.status_after_return(session, participant.id)
    await repo.append_event(session, "participant_resumed", participant.id)
    if participant.status == ParticipantStatus.INVITED:
        sprint = stegvis.onboarding(participant)
        await carry_out(bot, session, participant, sprint)
        return
    await session.commit()
    await send(bot, session, participant, [OutgoingMessage(texts.gettext("Välkommen tillbaka! Du får meddelanden från Stegvis igen."))])


async def while_stopped(message: Message, bot: Bot, session: AsyncSession, participant: Participant, texts: Texts) -> None:
    await send(bot, session, participant, [OutgoingMessage(texts.gettext(STOPPED))])


async def button_while_stopped(callback: CallbackQuery, texts: Texts) -> None:
    await callback.answer(texts.gettext(STOPPED), show_alert=True)


def create_router() -> Router:
    """A fresh router each time: aiogram lets a router belong to one dispatcher only."""
    router = Router(name="stopped")
    router.message.filter(MagicData(F.participant.status == ParticipantStatus.STOPPED))
    router.callback_query.filter(MagicData(F.participant.status == ParticipantStatus.STOPPED))
    router.message.register(start_again, CommandStart())
    router.message.register(while_stopped)
    router.callback_query.register(button_while_stopped)
    return router
