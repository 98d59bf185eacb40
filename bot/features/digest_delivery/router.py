"""Caseworkers on Telegram: linking a chat with a caseworker's invite, and a short help after that.

Comes before the participants' newcomers router (a caseworker has no participant record, so the
turn middleware hands ``participant=None``) and takes only:

* ``/start <caseworker code>`` from anyone (the code starts with ``case-``; a participant's or a
  leader's never does): a chat that is a participant's cannot become a caseworker's;
* every message of a chat linked to a caseworker: a short help (their chat never runs the
  participants' flows);
* a press of a digest's quick-reply button in a caseworker's chat (``quick_replies.py``); any
  other press there does nothing but say so.

The chat gets a menu of its own (chat-scoped), so the participants' commands never show there.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import CommandObject, CommandStart, Filter
from aiogram.types import BotCommand, BotCommandScopeChat, Message, TelegramObject
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.features.digest_delivery import quick_replies
from bot.features.participants.newcomers import BAD_LINK, REFUSED
from bot.telegram.rendering import reply_to_chat
from locales import N_, SOURCE_LANGUAGE
from storage import digests as store
from storage import repositories as repo
from storage.models import Caseworker

if TYPE_CHECKING:
    from bot.app import Stegvis
    from bot.conversation.turn import Turn
    from locales import Texts

log = logging.getLogger(__name__)

MENU = N_("Hjälp")
WELCOME = N_("Hej {name}! Ditt Telegramkonto är kopplat. Varje vardagsmorgon får du din sammanfattning här.")
HELP = N_("Här kommer din dagliga sammanfattning varje vardagsmorgon. Allt annat gör du i Stegvis kommandorad.")
PARTICIPANT_CHAT = N_("Det här kontot används redan av en deltagare och kan inte bli en handläggares.")


class CaseworkerChat(Filter):
    """A message from a chat linked to a caseworker (never a participant's: those have a record)."""

    async def __call__(self, event: TelegramObject, stegvis: Stegvis, participant: Any = None, event_chat: Any = None) -> bool | dict[str, Any]:
        if participant is not None or event_chat is None:
            return False
        async with stegvis.database.sessions() as session:
            row = (await session.execute(select(Caseworker.id, Caseworker.name).where(Caseworker.telegram_chat_id == event_chat.id))).first()
        return {"caseworker_id": row.id} if row is not None else False


class CaseworkerCode(Filter):
    async def __call__(self, message: Message, command: CommandObject) -> bool:
        return store.is_caseworker_code(command.args)


async def link(message: Message, command: CommandObject, bot: Bot, stegvis: Stegvis, language_guess: str | None, texts: Texts, participant: Any = None, turn: Turn | None = None) -> None:
    chat_id = message.chat.id
    if participant is not None:
        if turn is not None:
            return turn.say(texts.gettext(PARTICIPANT_CHAT))
        return await reply_to_chat(bot, chat_id, texts.gettext(PARTICIPANT_CHAT))
    catalogs, now = stegvis.catalogs, stegvis.clock.now()
    sv = catalogs.texts(SOURCE_LANGUAGE)  # caseworkers are municipal staff: Swedish
    async with stegvis.database.sessions() as session:
        caseworker = await store.find_by_code(session, command.args or "")
        if caseworker is None:
            return await reply_to_chat(bot, chat_id, catalogs.in_all_languages(BAD_LINK, language_guess))
        refusal, cid, name = None, caseworker.id, caseworker.name
        if caseworker.invite_used_at is not None:
            if caseworker.telegram_chat_id == chat_id:  # their own link again: linked already
                return await _welcome(bot, sv, name, chat_id)
            refusal = "used"
        elif now >= (caseworker.invite_expires_at or now):
            refusal = "expired"
        elif await session.scalar(select(Caseworker.id).where(Caseworker.telegram_chat_id == chat_id, Caseworker.id != cid)) is not None:
            refusal = "chat_taken"
        if refusal is None:
            try:
                # A new invite may move a caseworker to a new phone: the old chat is let go.
                linked = await store.link_chat(session, cid, chat_id, now=now)
                if linked:
                    await repo.append_event(session, "caseworker_linked", None, {"caseworker_id": cid}, occurred_at=now)
                    await session.commit()
            except IntegrityError:  # another caseworker took this chat meanwhile
                linked, refusal = False, "chat_taken"
            if linked:
                return await _welcome(bot, sv, name, chat_id)
            refusal = refusal or "used"
        await session.rollback()
    await reply_to_chat(bot, chat_id, sv.gettext(REFUSED[refusal]))  # the same refusals as a participant's link


async def _welcome(bot: Bot, sv: Texts, name: str, chat_id: int) -> None:
    await reply_to_chat(bot, chat_id, sv.gettext(WELCOME, name=name))
    try:
        # Their own menu: never the participants' commands.
        await bot.set_my_commands([BotCommand(command="help", description=sv.gettext(MENU))], scope=BotCommandScopeChat(chat_id=chat_id))
    except TelegramAPIError as error:
        log.info("could not set a caseworker's menu: %s", error)


async def caseworker_help(message: Message, bot: Bot, stegvis: Stegvis, caseworker_id: int) -> None:
    await reply_to_chat(bot, message.chat.id, stegvis.catalogs.texts(SOURCE_LANGUAGE).gettext(HELP))


def create_router() -> Router:
    router = Router(name="caseworker-telegram")
    router.message.register(link, CommandStart(deep_link=True), CaseworkerCode())
    router.message.register(caseworker_help, CaseworkerChat())
    router.callback_query.register(quick_replies.quick_reply, quick_replies.QuickReplyPress(), CaseworkerChat())
    router.callback_query.register(quick_replies.other_button, CaseworkerChat())
    return router
