"""The command menu Telegram shows beside the text field, in each participant's language."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats

from locales import LANGUAGES, SOURCE_LANGUAGE, Catalogs

def _commands(catalogs: Catalogs, code: str) -> list[BotCommand]:
    texts = catalogs.texts(code)
    return [
        BotCommand(command="start", description=texts.gettext("Börja")),
        BotCommand(command="language", description=texts.gettext("Byt språk")),
        BotCommand(command="help", description=texts.gettext("Hjälp")),
        BotCommand(command="stop", description=texts.gettext("Stoppa meddelanden")),
    ]


async def register_commands(bot: Bot, catalogs: Catalogs) -> None:
    scope = BotCommandScopeAllPrivateChats()
    # Without a language_code this is the menu for app languages we don't speak.
    await bot.set_my_commands(_commands(catalogs, SOURCE_LANGUAGE), scope=scope)
    for language in LANGUAGES.values():
        await bot.set_my_commands(_commands(catalogs, language.code), scope=scope, language_code=language.telegram_code)
