"""People without a participant record: opening a personal invite link, or writing without one.

Nothing about someone without a valid invite is stored. They get one short message in all five
languages, because we don't know which one they read; each line is kept short so the whole
message stays within the 200 characters of a first message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiogram import Bot, F, Router
from aiogram.filters import CommandObject, CommandStart, MagicData
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation import carry_out, reply_to_chat
from locales import N_
from storage import repositories as repo

if TYPE_CHECKING:
    from bot.app import Stegvis


NO_LINK = N_("Be din handläggare om en länk.")
BAD_LINK = N_("Länken fungerar inte. Be om en ny.")
REFUSED = {
    "expired": N_("Länken har gått ut. Be om en ny."),
    "used": N_("Länken är redan använd. Be om en ny."),
    "chat_taken": N_("Kontot används redan. Fråga din handläggare."),
}


async def open_invite(message: Message, command: CommandObject, bot: Bot, session: AsyncSession, stegvis: Stegvis, language_guess: str | None) -> None:
    catalogs = stegvis.catalogs
    invite = await repo.find_invite(session, command.args or "")
    if invite is None:
        return await reply_to_chat(bot, message.chat.id, catalogs.in_all_languages(BAD_LINK, language_guess))
    invite_id, invited = invite.id, invite.participant_id
    try:
        participant = await repo.redeem_invite(session, invite, message.chat.id)
    except repo.InviteNotUsable as refusal:
        await session.rollback()
        first = language_guess
        if refusal.reason == "expired":  # only the rightful owner could still hold an expired link
            first = (await repo.get_participant(session, invited)).language or language_guess
        return await reply_to_chat(bot, message.chat.id, catalogs.in_all_languages(REFUSED[refusal.reason], first))
    await repo.append_event(session, "invite_redeemed", participant.id, {"invite_id": invite_id})
    # Always let the person pick: a caseworker's preset or Telegram's app language is only a guess.
    sprint = stegvis.engine.start("onboarding", language=participant.language or language_guess, variables=stegvis.variables(participant))
    await carry_out(bot, session, participant, sprint)


async def without_invite(message: Message, bot: Bot, stegvis: Stegvis, language_guess: str | None) -> None:
    await reply_to_chat(bot, message.chat.id, stegvis.catalogs.in_all_languages(NO_LINK, language_guess))


async def button_without_invite(callback: CallbackQuery, stegvis: Stegvis, language_guess: str | None) -> None:
    # Like a message: all five languages, since Telegram's app language is only a guess.
    await callback.answer(stegvis.catalogs.in_all_languages(NO_LINK, language_guess), show_alert=True)


def create_router() -> Router:
    """A fresh router each time: aiogram lets a router belong to one dispatcher only."""
    router = Router(name="newcomers")
    router.message.filter(MagicData(F.participant.is_(None)))
    router.callback_query.filter(MagicData(F.participant.is_(None)))
    router.message.register(open_invite, CommandStart(deep_link=True))
    router.message.register(without_invite)
    router.callback_query.register(button_without_invite)
    return router
