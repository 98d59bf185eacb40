"""``stegvis run`` (the bot, polling or on a webhook) and ``stegvis demo`` (the bot against a local sandbox)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from bot.cli.commands import Commands, refuse

if TYPE_CHECKING:
    from bot.config import Settings

NO_TOKEN = """\
TELEGRAM_BOT_TOKEN is not set, so Stegvis cannot reach Telegram.
Get a token from @BotFather in Telegram (send /newbot), then:
    export TELEGRAM_BOT_TOKEN=123456:ABC...
    stegvis run
To try Stegvis without a token or network, run:  stegvis demo"""


def add_commands(commands: Commands) -> None:
    run = commands.top("run", help="run the bot (long polling, or --webhook URL)")
    run.add_argument("--webhook", metavar="URL", help="receive updates at this public HTTPS URL instead of polling")
    run.add_argument("--json", action="store_true", help="a refusal to start as one JSON object")
    run.set_defaults(handler=run_bot)
    demo = commands.top("demo", help="run the bot against a local sandbox: no token, no network")
    demo.set_defaults(handler=run_demo)


def run_bot(settings: Settings, args: argparse.Namespace) -> int:
    """Runs until stopped; a refusal to start is one line naming what to fix, never a traceback."""
    if not settings.telegram_bot_token:
        if args.json:
            return refuse(NO_TOKEN.splitlines()[0], [], True)
        print(NO_TOKEN, file=sys.stderr)
        return 2
    from bot.app import Stegvis
    from bot.config import SettingsError, check_webhook_url
    from bot.telegram.running import StartupError, run_polling, run_webhook
    from flows.definition import FlowError
    from storage.database import DatabaseError

    try:
        if args.webhook:
            check_webhook_url(args.webhook, api_url=settings.telegram_api_url)
        stegvis = Stegvis.create(settings, clock=settings.clock)
        asyncio.run(run_webhook(stegvis, args.webhook) if args.webhook else run_polling(stegvis))
    except (SettingsError, DatabaseError, StartupError, FlowError) as error:  # FlowError: a notice text without a version
        return refuse(str(error), [], args.json)
    except KeyboardInterrupt:
        pass
    return 0


def run_demo(settings: Settings, args: argparse.Namespace) -> int:
    from bot.demo import run_demo as demo

    return asyncio.run(demo())
