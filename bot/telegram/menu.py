"""The command menu Telegram shows beside the text field, in each participant's language."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram import Bot
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats

from bot.registry import MenuCommand
from locales import LANGUAGES, SOURCE_LANGUAGE, Catalogs


def _commands(catalogs: Catalogs, code: str, entries: Sequence[MenuCommand]) -> list[BotCommand]:
    texts = catalogs.texts(code)
    return [BotCommand(command=entry.command, description=texts.gettext(entry.description)) for entry in sorted(entries, key=lambda e: e.order)]


async def register_commands(bot: Bot, catalogs: Catalogs, entries: Sequence[MenuCommand]) -> None:
    scope = BotCommandScopeAllPrivateChats()
    # Without a language_code this is the menu for app languages we don't speak.
    await bot.set_my_commands(_commands(catalogs, SOURCE_LANGUAGE, entries), scope=scope)
    for language in LANGUAGES.values():
        await bot.set_my_commands(_commands(catalogs, language.code, entries), scope=scope, language_code=language.telegram_code)
