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

from bot.telegram.rendering import keyboard, reply_to_chat
from flows.engine import IDLE
from locales import N_
from storage import repositories as repo
from storage.writer import ParticipantRow, apply_changes

if TYPE_CHECKING:
    from bot.app import Stegvis


# TRANSLATORS: at most 200 characters in all languages together (one first message, every language on its own line)
NO_LINK = N_("Be din handläggare om en länk.")
# TRANSLATORS: at most 200 characters in all languages together (one first message, every language on its own line)
BAD_LINK = N_("Länken fungerar inte. Be om en ny.")
REFUSED = {
    # TRANSLATORS: at most 200 characters in all languages together (one first message, every language on its own line)
    "expired": N_("Länken har gått ut. Be om en ny."),
    # TRANSLATORS: at most 200 characters in all languages together (one first message, every language on its own line)
    "used": N_("Länken är redan använd. Be om en ny."),
    # TRANSLATORS: at most 200 characters in all languages together (one first message, every language on its own line)
    "chat_taken": N_("Kontot används redan. Fråga din handläggare."),
}


async def open_invite(message: Message, command: CommandObject, bot: Bot, stegvis: Stegvis, language_guess: str | None) -> None:
    catalogs, now = stegvis.catalogs, stegvis.clock.now()
    async with stegvis.database.sessions() as session:
        invite = await repo.find_invite(session, command.args or "")
        if invite is None:
            return await reply_to_chat(bot, message.chat.id, catalogs.in_all_languages(BAD_LINK, language_guess))
        invite_id, invited = invite.id, invite.participant_id
        try:
            participant = await repo.redeem_invite(session, invite, message.chat.id, now=now)
        except repo.InviteNotUsable as refusal:
            await session.rollback()
            first = language_guess
            if refusal.reason == "expired":  # only the rightful owner could still hold an expired link
                first = (await repo.get_participant(session, invited)).language or language_guess
            return await reply_to_chat(bot, message.chat.id, catalogs.in_all_languages(REFUSED[refusal.reason], first))
        await repo.append_event(session, "invite_redeemed", participant.id, {"invite_id": invite_id}, occurred_at=now)
        row = ParticipantRow(participant.id, participant.name, participant.caseworker_id, participant.language, participant.status, message.chat.id, None)
        # Always let the person pick: a caseworker's preset or Telegram's app language is only a guess.
        sprint = stegvis.engine.start("onboarding", language=participant.language or language_guess, variables=stegvis.variables(row))
        await apply_changes(session, stegvis.conversations.changes_for(row, sprint, IDLE, now))
        await session.commit()  # the one commit of this update: the link is used and onboarding begun
    for outgoing in sprint.messages:
        await bot.send_message(message.chat.id, outgoing.text, reply_markup=keyboard(outgoing))


async def without_invite(message: Message, bot: Bot, stegvis: Stegvis, language_guess: str | None) -> None:
    await reply_to_chat(bot, message.chat.id, stegvis.catalogs.in_all_languages(NO_LINK, language_guess))


async def button_without_invite(callback: CallbackQuery, stegvis: Stegvis, language_guess: str | None) -> None:
    # Like a message: all five languages, since Telegram's app language is only a guess.
    await callback.answer(stegvis.catalogs.in_all_languages(NO_LINK, language_guess), show_alert=True)


def create_router() -> Router:
    router = Router(name="newcomers")
    router.message.filter(MagicData(F.participant.is_(None)))
    router.callback_query.filter(MagicData(F.participant.is_(None)))
    router.message.register(open_invite, CommandStart(deep_link=True))
    router.message.register(without_invite)
    router.callback_query.register(button_without_invite)
    return router
