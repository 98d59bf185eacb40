"""Running the bot for real: long polling by default, or a webhook with Telegram's secret-token check."""

from __future__ import annotations

import asyncio
import logging
import secrets
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from bot.app import Stegvis
from bot.menu import register_commands
from bot.scheduler import start_scheduler

log = logging.getLogger(__name__)


async def start(stegvis: Stegvis) -> tuple[Bot, Dispatcher]:
    """Everything both modes share: the schema is brought up to date, the menus are registered."""
    await stegvis.database.upgrade()
    bot = stegvis.create_bot()
    dispatcher = stegvis.create_dispatcher()
    me = await bot.get_me()
    log.info("Stegvis is @%s; invite links look like https://t.me/%s?start=CODE", me.username, me.username)
    await register_commands(bot, stegvis.catalogs)
    return bot, dispatcher


async def run_polling(stegvis: Stegvis, *, handle_signals: bool = True) -> None:
    bot, dispatcher = await start(stegvis)
    scheduling = start_scheduler(stegvis, bot)
    try:
        await bot.delete_webhook()
        await dispatcher.start_polling(bot, allowed_updates=dispatcher.resolve_used_update_types(), handle_signals=handle_signals)
    finally:
        await scheduling.stop()
        await bot.session.close()
        await stegvis.database.dispose()


async def run_webhook(stegvis: Stegvis, url: str) -> None:
    bot, dispatcher = await start(stegvis)
    # Telegram repeats this secret in a header on every update; anything without it is refused.
    secret = stegvis.settings.webhook_secret or secrets.token_urlsafe(32)
    app = web.Application()
    SimpleRequestHandler(dispatcher, bot, secret_token=secret).register(app, path=urlsplit(url).path or "/")
    setup_application(app, dispatcher, bot=bot)
    host, _, port = stegvis.settings.webhook_listen.rpartition(":")
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, host, int(port)).start()
    await bot.set_webhook(url, secret_token=secret, allowed_updates=dispatcher.resolve_used_update_types())
    log.info("listening on %s for updates posted to %s", stegvis.settings.webhook_listen, url)
    scheduling = start_scheduler(stegvis, bot)
    try:
        await asyncio.Event().wait()
    finally:
        await scheduling.stop()
        await bot.delete_webhook()
        await runner.cleanup()
        await stegvis.database.dispose()
