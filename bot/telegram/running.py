"""Running the bot for real: long polling by default, or a webhook with Telegram's secret-token check.

Both modes share `start` (the schema brought up to date, the bot's name asked, the menus
registered) and stop the same way: the sends under way finish, the claimed outbox rows that
were not sent yet are handed back, and the database is closed.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramUnauthorizedError
from aiogram.webhook.aiohttp_server import setup_application
from aiohttp import web

from bot.app import Stegvis
from bot.scheduler import settle_memory, start_scheduler
from bot.telegram.menu import register_commands
from bot.telegram.webhook import SecretCheckedRequestHandler

log = logging.getLogger(__name__)


class StartupError(Exception):
    """The bot cannot start; str() is one line naming what to fix."""


async def start(stegvis: Stegvis) -> tuple[Bot, Dispatcher]:
    """Everything both modes share: the schema is brought up to date, the menus are registered."""
    await stegvis.database.ensure_schema()
    # The published versions (of flows, …) before the first update, not at the first poll.
    await stegvis.live.poll(stegvis)
    bot = stegvis.create_bot()
    try:
        me = await bot.get_me()
        await register_commands(bot, stegvis.catalogs, stegvis.features.menu)
    except BaseException as error:
        await bot.session.close()
        raise _startup_error(error, stegvis.settings.telegram_api_url) from None
    log.info("Stegvis is @%s; invite links look like https://t.me/%s?start=CODE", me.username, me.username)
    return bot, stegvis.create_dispatcher()


def _startup_error(error: BaseException, api_url: str) -> BaseException:
    if isinstance(error, TelegramUnauthorizedError):
        return StartupError("Telegram refused TELEGRAM_BOT_TOKEN (401 Unauthorized): copy the token @BotFather gave you again")
    if isinstance(error, TelegramNetworkError):
        reason = str(error.message).splitlines()[0] if error.message else "no answer"
        return StartupError(f"cannot reach the Bot API at {api_url} ({reason}): check the network, or TELEGRAM_API_URL")
    if isinstance(error, TelegramAPIError):
        return StartupError(f"the Bot API at {api_url} refused to start the bot: {error.message}")
    return error


async def run_polling(stegvis: Stegvis, *, handle_signals: bool = True) -> None:
    bot, dispatcher = await start(stegvis)
    scheduling = start_scheduler(stegvis, bot)
    settle_memory()
    try:
        await bot.delete_webhook()
        await dispatcher.start_polling(bot, allowed_updates=dispatcher.resolve_used_update_types(), handle_signals=handle_signals)
    finally:
        await scheduling.stop()
        await bot.session.close()
        await stegvis.close()


async def run_webhook(stegvis: Stegvis, url: str, *, stop: asyncio.Event | None = None) -> None:
    """Serve Telegram's webhook calls until SIGTERM or SIGINT (or `stop` is set), then stop cleanly."""
    bot, dispatcher = await start(stegvis)
    # Telegram repeats this secret in a header on every update; anything without it is refused.
    secret = stegvis.settings.webhook_secret or secrets.token_urlsafe(32)
    app = web.Application()
    SecretCheckedRequestHandler(dispatcher, bot, secret_token=secret).register(app, path=urlsplit(url).path or "/")
    setup_application(app, dispatcher, bot=bot)
    host, _, port = stegvis.settings.webhook_listen.rpartition(":")
    runner = web.AppRunner(app)
    await runner.setup()
    stop = stop or asyncio.Event()
    scheduling = None
    try:
        try:
            await web.TCPSite(runner, host, int(port)).start()
        except OSError as error:
            raise StartupError(f"cannot listen on {host}:{port} ({error.strerror or error}): free the port or set STEGVIS_WEBHOOK_LISTEN") from None
        await bot.set_webhook(url, secret_token=secret, allowed_updates=dispatcher.resolve_used_update_types())
        log.info("listening on %s for updates posted to %s", stegvis.settings.webhook_listen, url)
        scheduling = start_scheduler(stegvis, bot)
        settle_memory()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(signum, stop.set)
            except (NotImplementedError, RuntimeError):  # not the main thread (tests)
                pass
        await stop.wait()
        log.info("stopping: finishing the sends under way")
    finally:
        if scheduling is not None:
            await scheduling.stop()
        try:
            await bot.delete_webhook()
        except Exception as error:  # noqa: BLE001 - stopping anyway
            log.warning("could not remove the webhook at Telegram: %s", error)
        await runner.cleanup()
        await bot.session.close()
        await stegvis.close()
