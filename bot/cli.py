"""The ``stegvis`` command: run the bot, try the demo, and manage caseworkers, participants and appointments.

Every admin command takes ``--json`` and then prints exactly one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from bot import admin
from bot import appointments as booking
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
    _appointment_commands(commands)
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


def _admin(action: Callable[[Settings, argparse.Namespace, Database], Awaitable[dict[str, Any]]], human: Callable[[dict[str, Any], Settings], str] | None = None) -> Callable[[Settings, argparse.Namespace], int]:
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
            # An import names every bad row, one per line, under the one-line error.
            problems = list(getattr(error, "problems", []))
            if args.json:
                print(json.dumps({"error": str(error), **({"problems": problems} if problems else {})}, ensure_ascii=False))
            else:
                print("\n".join([f"stegvis: {error}", *(f"  {problem}" for problem in problems)]), file=sys.stderr)
            return 2
        print(json.dumps(result, ensure_ascii=False) if args.json else (human(result, settings) if human else _human(result)))
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


# Appointments


class _JsonUsage(argparse.ArgumentParser):
    """An appointment command's parser: with --json, even a usage error prints one JSON object."""

    _wants_json = False

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self._wants_json = args is not None and "--json" in args
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            # Otherwise the top-level parser reports them, without knowing about --json.
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras

    def error(self, message: str) -> Any:
        if self._wants_json:
            print(json.dumps({"error": f"{message} (see: {self.prog} --help)"}, ensure_ascii=False))
            self.exit(2)
        super().error(message)


def _id(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f'"{text}" is not an id; use a whole number, e.g. 7')
    return int(text)


def _appointment_commands(commands: Any) -> None:
    appointment = commands.add_parser("appointment", help="book appointments; participants are reminded before them").add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=_JsonUsage
    )
    at_help = "local time (STEGVIS_TIMEZONE), e.g. 2026-11-24T10:30"

    add = appointment.add_parser("add", help="book an appointment and plan its reminders")
    add.add_argument("--participant", required=True, type=_id, metavar="ID")
    add.add_argument("--at", required=True, metavar="TIME", help=at_help)
    add.add_argument("--place", required=True, help="where; shown to the participant (at most 200 characters)")
    add.add_argument("--title", help="what; shown to the participant, so nothing sensitive (at most 200 characters)")
    add.add_argument("--remind", action="append", metavar="LEAD", help="when to remind, e.g. 3d, 1d, 2h or 30m; repeat for more (default STEGVIS_REMINDER_LEAD_TIMES)")
    _json_flag(add)
    add.set_defaults(handler=_admin(_appointment_add, _booked_text))

    move = appointment.add_parser("move", help="move an appointment: fresh reminders and a notice of the new time")
    move.add_argument("id", type=_id, metavar="ID")
    move.add_argument("--at", required=True, metavar="TIME", help=at_help)
    _json_flag(move)
    move.set_defaults(handler=_admin(_appointment_move, _moved_text))

    cancel = appointment.add_parser("cancel", help="cancel an appointment: reminders withdrawn, the participant told")
    cancel.add_argument("id", type=_id, metavar="ID")
    _json_flag(cancel)
    cancel.set_defaults(handler=_admin(lambda s, a, db: booking.cancel_appointment(db, s, a.id), _cancelled_text))

    listing = appointment.add_parser("list", help="appointments with their reminders and the participant's answer")
    listing.add_argument("--participant", type=_id, metavar="ID")
    _json_flag(listing)
    listing.set_defaults(handler=_admin(lambda s, a, db: booking.list_appointments(db, s, a.participant), _appointments_table))

    attended = appointment.add_parser("attended", help="record whether the participant came")
    attended.add_argument("id", type=_id, metavar="ID")
    came = attended.add_mutually_exclusive_group(required=True)
    came.add_argument("--yes", dest="attended", action="store_true", help="the participant came")
    came.add_argument("--no", dest="attended", action="store_false", help="the participant did not come")
    _json_flag(attended)
    attended.set_defaults(handler=_admin(lambda s, a, db: booking.record_attendance(db, s, a.id, a.attended), _attended_text))

    bulk = appointment.add_parser("import", help=f"book many from a CSV file with the header {','.join(booking.CSV_COLUMNS)}; all or nothing")
    bulk.add_argument("file", metavar="FILE.csv")
    _json_flag(bulk)
    bulk.set_defaults(handler=_admin(lambda s, a, db: booking.import_appointments(db, s, a.file), _imported_text))


def _option(option: str, parse: Callable[[], Any]) -> Any:
    try:
        return parse()
    except ValueError as error:
        raise admin.AdminError(f"{option}: {error}") from None


async def _appointment_add(settings: Settings, args: argparse.Namespace, database: Database) -> dict[str, Any]:
    starts_at = _option("--at", lambda: booking.parse_at(args.at, settings.tz))
    leads = _option("--remind", lambda: booking.parse_remind(args.remind)) if args.remind is not None else None
    return await booking.book_appointment(database, settings, args.participant, starts_at, args.place, args.title, leads)


async def _appointment_move(settings: Settings, args: argparse.Namespace, database: Database) -> dict[str, Any]:
    starts_at = _option("--at", lambda: booking.parse_at(args.at, settings.tz))
    return await booking.move_appointment(database, settings, args.id, starts_at)


def _clock(iso: str | None) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M") if iso else "-"


def _current(items: list[dict[str, Any]], version: int) -> list[dict[str, Any]]:
    return [item for item in items if item["version"] == version]


def _reminder_line(appointment: dict[str, Any]) -> str:
    parts = [f"{r['lead']} {_clock(r['due_at'])} {r['status']}" for r in _current(appointment["reminders"], appointment["version"])]
    parts += [f"{n['kind']} notice {_clock(n['due_at'])} {n['status']}" for n in _current(appointment["notices"], appointment["version"])]
    return " · ".join(parts) or "none (the appointment is too close, inside quiet hours)"


def _heading(a: dict[str, Any]) -> str:
    what = f" ({a['title']})" if a["title"] else ""
    return f"Appointment {a['id']} for participant {a['participant_id']}: {_clock(a['starts_at'])}, {a['place']}{what}"


def _booked_text(a: dict[str, Any], settings: Settings) -> str:
    return f"{_heading(a)}. Booked.\nReminders ({settings.timezone}): {_reminder_line(a)}"


def _told(a: dict[str, Any], kind: str) -> str:
    notices = [n for n in _current(a["notices"], a["version"]) if n["kind"] == kind]
    if notices:
        return f"\nThe participant is told at {_clock(notices[0]['due_at'])}."
    return "\nNo notice can reach the participant before the appointment (quiet hours): tell them another way."


def _moved_text(a: dict[str, Any], settings: Settings) -> str:
    return f"{_heading(a)}. Moved (version {a['version']}); the old reminders are withdrawn.{_told(a, 'moved')}\nMessages ({settings.timezone}): {_reminder_line(a)}"


def _cancelled_text(a: dict[str, Any], settings: Settings) -> str:
    text = f"{_heading(a)}. Cancelled; reminders not yet sent are withdrawn."
    if datetime.fromisoformat(a["starts_at"]) <= datetime.now(timezone.utc):
        return text
    return text + _told(a, "cancelled")


def _attended_text(a: dict[str, Any], settings: Settings) -> str:
    return f"{_heading(a)}. Recorded: {'came' if a['attended'] else 'did not come'}."


def _appointments_table(result: dict[str, Any], settings: Settings) -> str:
    rows = result["appointments"]
    if not rows:
        return "No appointments. Book one with: stegvis appointment add --participant ID --at 2026-11-24T10:30 --place TEXT"
    attended = {True: "yes", False: "no", None: "-"}
    lines = [f"{'id':>4}  {'participant':>11}  {'starts (' + settings.timezone + ')':<28} {'status':<10} {'answer':<11} {'came':<5} place"]
    for a in rows:
        lines.append(f"{a['id']:>4}  {a['participant_id']:>11}  {_clock(a['starts_at']):<28} {a['status']:<10} {a['answer'] or '-':<11} {attended[a['attended']]:<5} {a['place'][:40]}")
        if a["status"] == "booked" or a["reminders"]:
            lines.append(f"{'':>6}messages: {_reminder_line(a)}")
    return "\n".join(lines)


def _imported_text(result: dict[str, Any], settings: Settings) -> str:
    return f"Imported {result['imported']} appointments.\n" + _appointments_table(result, settings)


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
