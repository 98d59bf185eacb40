"""``stegvis caseworker add`` and ``stegvis participant add | list | invite | edit``: thin adapters over the services."""

from __future__ import annotations

import argparse
import logging
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from bot.cli.commands import Commands, Context, id_argument
from locales.languages import LANGUAGES

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.features.participants.services import InviteIssued

log = logging.getLogger(__name__)


def add_commands(commands: Commands) -> None:
    caseworker = commands.group("caseworker", help="manage caseworkers")
    add = caseworker.command("add", help="add a caseworker", action=add_caseworker, human=caseworker_added, creates_database=True)
    add.add_argument("--name", required=True)
    add.add_argument("--email")

    participant = commands.group("participant", help="manage participants")
    add = participant.command("add", help="add a participant and print their personal invite link", action=add_participant, human=participant_added)
    add.add_argument("--name", required=True)
    add.add_argument("--caseworker", required=True, metavar="ID", type=id_argument)
    add.add_argument("--language", metavar="CODE", help=f"{', '.join(LANGUAGES)} (prs for Dari): shown first on the language picker")
    participant.command("list", help="list participants", action=list_participants, human=participants_table)
    # The participant is the positional ID, not an option: its errors get no "--participant:" in front.
    invite = participant.command("invite", help="a new invite link for a participant whose link expired or was lost; the old one stops working", action=new_invite, human=invite_text, options={"participant": None})
    invite.add_argument("id", metavar="ID", type=id_argument)
    edit = participant.command("edit", help="change what is stored about a participant (for now: the gender the funders' reports count)", action=edit_participant, human=edited_text, options={"participant": None})
    edit.add_argument("id", metavar="ID", type=id_argument)
    edit.add_argument("--gender", required=True, metavar="GENDER", help="woman, man, other or unknown; none clears it. Optional, for the funders' statistics only; never asked in the chat")



async def add_caseworker(context: Context, args: argparse.Namespace) -> dict[str, Any]:
    from bot.features.participants import services

    added = await services.add_caseworker(context.session, context.actor, name=args.name, email=args.email, now=context.now, invite_days=context.settings.invite_days)
    result = asdict(added)
    expires = result.pop("invite_expires_at")
    result["invite_expires_at"] = expires.isoformat() if expires else None
    username = await bot_username(context.settings)
    result["link"] = f"https://t.me/{username}?start={added.invite_code}" if username and added.invite_code else None
    return result


async def add_participant(context: Context, args: argparse.Namespace) -> dict[str, Any]:
    from bot.features.participants import services

    added = await services.add_participant(
        context.session, context.actor, name=args.name, caseworker_id=args.caseworker, language=args.language, now=context.now, invite_days=context.settings.invite_days
    )
    return {
        "participant_id": added.participant_id,
        "name": added.name,
        "caseworker_id": added.caseworker_id,
        "language": added.language,
        **await _invite(context.settings, added.invite),
    }


async def new_invite(context: Context, args: argparse.Namespace) -> dict[str, Any]:
    from bot.features.participants import services

    issued = await services.issue_invite(context.session, context.actor, participant_id=args.id, now=context.now, invite_days=context.settings.invite_days)
    return {"participant_id": issued.participant_id, **await _invite(context.settings, issued)}


async def edit_participant(context: Context, args: argparse.Namespace) -> dict[str, Any]:
    from bot.cli.commands import invalid_option
    from bot.features.participants import services

    gender = invalid_option("gender", lambda: services.parse_gender(args.gender))
    return asdict(await services.set_gender(context.session, context.actor, participant_id=args.id, gender=gender, now=context.now))


async def list_participants(context: Context, args: argparse.Namespace) -> dict[str, Any]:
    from bot.features.participants import services

    return {"participants": [asdict(p) for p in await services.list_participants(context.session, context.actor, now=context.now)]}


async def _invite(settings: Settings, invite: InviteIssued) -> dict[str, Any]:
    username = await bot_username(settings)
    return {
        "invite_code": invite.code,
        "invite_expires_at": invite.expires_at.isoformat(),
        "link": f"https://t.me/{username}?start={invite.code}" if username else None,
    }


async def bot_username(settings: Settings) -> str | None:
    """The bot's @name for invite links: from the settings, else asked from Telegram."""
    if settings.telegram_bot_username or not settings.telegram_bot_token:
        return settings.telegram_bot_username
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    bot = Bot(settings.telegram_bot_token, session=AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url)))
    try:
        return (await bot.get_me()).username
    except Exception as error:  # noqa: BLE001 - the link is a convenience; the code is what matters
        log.warning("could not ask Telegram for the bot's name: %s", error)
        return None
    finally:
        await bot.session.close()


def caseworker_added(result: dict[str, Any], settings: Settings) -> str:
    return (
        f"Caseworker {result['caseworker_id']} ({result['name']}) added. Their own Telegram invite link "
        f"(the daily digest comes there), valid until {(result['invite_expires_at'] or '')[:10]}:\n{_link(result)}"
    )


def _link(result: dict[str, Any]) -> str:
    return result["link"] or f"(set TELEGRAM_BOT_TOKEN or TELEGRAM_BOT_USERNAME to get the link) code: {result['invite_code']}"


def participant_added(result: dict[str, Any], settings: Settings) -> str:
    return f"Participant {result['participant_id']} ({result['name']}) added. Personal invite link, valid until {result['invite_expires_at'][:10]}:\n{_link(result)}"


def invite_text(result: dict[str, Any], settings: Settings) -> str:
    return f"A new personal invite link for participant {result['participant_id']}, valid until {result['invite_expires_at'][:10]}; the old link no longer works:\n{_link(result)}"


def edited_text(result: dict[str, Any], settings: Settings) -> str:
    return f"Participant {result['participant_id']} ({result['name']}): gender {result['gender'] or 'not given'}."


def participants_table(result: dict[str, Any], settings: Settings) -> str:
    rows = result["participants"]
    if not rows:
        return "No participants yet. Add one with: stegvis participant add --name N --caseworker ID"
    lines = [f"{'id':>4}  {'name':<28} {'language':<8} {'status':<12} caseworker"]
    lines += [f"{r['participant_id']:>4}  {r['name'][:28]:<28} {r['language'] or '-':<8} {r['status']:<12} {r['caseworker_id']}" for r in rows]
    return "\n".join(lines)
