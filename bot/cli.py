"""The ``stegvis`` command: run the bot, try the demo, and manage caseworkers and participants.

Every admin command takes ``--json`` and then prints exactly one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from bot import admin
from bot.config import Settings, SettingsError, load_settings
from storage.database import Database

NO_TOKEN = """\
TELEGRAM_BOT_TOKEN is not set, so Stegvis cannot reach Telegram.
Get a token from @BotFather in Telegram (send /newbot), then:
    export TELEGRAM_BOT_TOKEN=123456:ABC...
    stegvis run
To try Stegvis without a token or network, run:  stegvis demo"""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.command in ("run",) else logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"stegvis: configuration error: {error}", file=sys.stderr)
        return 2
    return args.handler(settings, args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stegvis", description="Stegvis: a multilingual assistant for labour-market and integration programmes.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the bot (long polling, or --webhook URL)")
    run.add_argument("--webhook", metavar="URL", help="receive updates at this public HTTPS URL instead of polling")
    run.set_defaults(handler=_run)

    demo = commands.add_parser("demo", help="run the bot against a local sandbox: no token, no network")
    demo.set_defaults(handler=_demo)

    caseworker = commands.add_parser("caseworker", help="manage caseworkers").add_subparsers(dest="action", required=True, metavar="ACTION")
    add = caseworker.add_parser("add", help="add a caseworker")
    add.add_argument("--name", required=True)
    add.add_argument("--email")
    _json_flag(add)
    add.set_defaults(handler=_admin(lambda s, a, db: admin.add_caseworker(db, a.name, a.email)))

    participant = commands.add_parser("participant", help="manage participants").add_subparsers(dest="action", required=True, metavar="ACTION")
    add = participant.add_parser("add", help="add a participant and print their personal invite link")
    add.add_argument("--name", required=True)
    add.add_argument("--caseworker", required=True, type=int, metavar="ID")
    add.add_argument("--language", metavar="CODE", help="sv, ar, so, fa_AF (or prs) or ti: shown first on the language picker")
    _json_flag(add)
    add.set_defaults(handler=_admin(_add_participant))
    listing = participant.add_parser("list", help="list participants")
    _json_flag(listing)
    listing.set_defaults(handler=_admin(lambda s, a, db: _wrap("participants", admin.list_participants(db))))
    return parser


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")


async def _wrap(key: str, rows: Awaitable[list[dict[str, Any]]]) -> dict[str, Any]:
    return {key: await rows}


async def _add_participant(settings: Settings, args: argparse.Namespace, database: Database) -> dict[str, Any]:
    return await admin.add_participant(database, settings, args.name, args.caseworker, args.language, bot_username=await _bot_username(settings))


async def _bot_username(settings: Settings) -> str | None:
    if settings.telegram_bot_username or not settings.telegram_bot_token:
        return settings.telegram_bot_username
    from bot.app import create_bot

    bot = create_bot(settings)
    try:
        return (await bot.get_me()).username
    except Exception as error:  # noqa: BLE001 - the link is a convenience; the code is what matters
        logging.getLogger(__name__).warning("could not ask Telegram for the bot's name: %s", error)
        return None
    finally:
        await bot.session.close()


def _admin(action: Callable[[Settings, argparse.Namespace, Database], Awaitable[dict[str, Any]]]) -> Callable[[Settings, argparse.Namespace], int]:
    def handler(settings: Settings, args: argparse.Namespace) -> int:
        async def go() -> dict[str, Any]:
            database = Database(settings.database_url)
            try:
                await database.upgrade()
                return await action(settings, args, database)
            finally:
                await database.dispose()

        try:
            result = asyncio.run(go())
        except admin.AdminError as error:
            if args.json:
                print(json.dumps({"error": str(error)}, ensure_ascii=False))
            else:
                print(f"stegvis: {error}", file=sys.stderr)
            return 2
        print(json.dumps(result, ensure_ascii=False) if args.json else _human(result))
        return 0

    return handler


def _human(result: dict[str, Any]) -> str:
    if "participants" in result:
        rows = result["participants"]
        if not rows:
            return "No participants yet. Add one with: stegvis participant add --name N --caseworker ID"
        lines = [f"{'id':>4}  {'name':<28} {'language':<8} {'status':<12} caseworker"]
        lines += [f"{r['participant_id']:>4}  {r['name'][:28]:<28} {r['language'] or '-':<8} {r['status']:<12} {r['caseworker_id']}" for r in rows]
        return "\n".join(lines)
    if "invite_code" in result:
        link = result["link"] or f"(set TELEGRAM_BOT_TOKEN or TELEGRAM_BOT_USERNAME to get the link) code: {result['invite_code']}"
        return f"Participant {result['participant_id']} ({result['name']}) added. Personal invite link, valid until {result['invite_expires_at'][:10]}:\n{link}"
    return f"Caseworker {result['caseworker_id']} ({result['name']}) added."


def _run(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.telegram_bot_token:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    from bot.app import Stegvis
    from bot.run import run_polling, run_webhook

    stegvis = Stegvis.create(settings)
    try:
        asyncio.run(run_webhook(stegvis, args.webhook) if args.webhook else run_polling(stegvis))
    except KeyboardInterrupt:
        pass
    return 0


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    return asyncio.run(run_demo())


if __name__ == "__main__":
    sys.exit(main())
