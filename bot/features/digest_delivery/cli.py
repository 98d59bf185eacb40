"""``stegvis digest send | status`` and ``stegvis caseworker invite``: thin adapters over the delivery services.

``caseworker invite`` joins the participants feature's ``caseworker`` group (`Commands.extend`).

They join the ``digest`` group of the digest feature (``digest show``) when it is listed before
this one in FEATURES; until then this file makes the group itself (see `_digest_group`).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from bot.cli.commands import Commands, Context, Group, id_argument, invalid_option

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.features.digest_delivery.services import DigestListing

OPTIONS = {"day": "--date", "caseworker": "--caseworker"}


def _digest_group(commands: Commands) -> Group:
    try:
        return commands.extend("digest")
    except LookupError:  # the digest feature (stegvis digest show) is not listed before this one
        return commands.group("digest", help="the caseworkers' daily digest")


def add_commands(commands: Commands) -> None:
    invite = commands.extend("caseworker").command(
        "invite", help="a new Telegram invite link for a caseworker (lost link, new phone); the old one stops working", action=invite_it, human=invite_text, options={"caseworker": None}
    )
    invite.add_argument("id", type=id_argument, metavar="ID")
    digest = _digest_group(commands)
    send = digest.command("send", help="send a day's digests now (even outside the digest time); one already sent is not sent again", action=send_it, human=status_text, options=OPTIONS)
    send.add_argument("--date", metavar="DATE", help="the digest's day, YYYY-MM-DD (default: today)")
    send.add_argument("--caseworker", type=id_argument, metavar="ID", help="only this caseworker's digest")
    status = digest.command("status", help="what was sent when and how, and what failed with its error", action=status_of, human=status_text, options=OPTIONS)
    status.add_argument("--date", metavar="DATE", help="the digests' day, YYYY-MM-DD (default: today)")


def _day(context: Context, args: argparse.Namespace) -> Any:
    from bot.validation import parse_date

    if args.date is None:
        return context.now.astimezone(context.settings.tz).date()
    return invalid_option("day", lambda: parse_date(args.date))


async def send_it(context: Context, args: argparse.Namespace) -> DigestListing:
    from bot.features.digest_delivery import services
    from bot.features.digest_delivery.feature import digest_source

    return await services.send_now(
        context.database, context.session, context.actor, context.settings, digest_source(), day=_day(context, args), caseworker_id=args.caseworker, now=context.now
    )


async def status_of(context: Context, args: argparse.Namespace) -> DigestListing:
    from bot.features.digest_delivery import services

    return await services.digest_status(context.session, context.actor, day=_day(context, args))


async def invite_it(context: Context, args: argparse.Namespace) -> dict[str, Any]:
    from bot.features.digest_delivery import services
    from bot.features.participants.cli import bot_username

    issued = await services.new_invite(context.session, context.actor, context.settings, caseworker_id=args.id, now=context.now)
    username = await bot_username(context.settings)
    return {**issued.as_json(context.settings.tz), "link": f"https://t.me/{username}?start={issued.invite_code}" if username else None}


def invite_text(result: dict[str, Any], settings: Settings) -> str:
    link = result["link"] or f"(set TELEGRAM_BOT_TOKEN or TELEGRAM_BOT_USERNAME to get the link) code: {result['invite_code']}"
    return f"A new Telegram invite link for caseworker {result['caseworker_id']}, valid until {result['invite_expires_at'][:10]}; the old link no longer works:\n{link}"


def status_text(listing: DigestListing, settings: Settings) -> str:
    day = listing.day.isoformat() if listing.day else "every day"
    lines = [f"Digests of {day}:"]
    if not listing.digests:
        lines.append("  none (no caseworker has Telegram linked or an email address with SMTP configured, or the day's time has not come)")
    for d in listing.digests:
        when = f" at {d.sent_at.astimezone(settings.tz):%Y-%m-%d %H:%M}" if d.sent_at else ""
        error = f" — {d.last_error}" if d.last_error else ""
        lines.append(f"  caseworker {d.caseworker_id} ({d.caseworker}) by {d.channel}: {d.status}{when}, {d.attempts} attempt(s){error}")
    if listing.without_channel:
        lines.append(f"  caseworker(s) {', '.join(map(str, listing.without_channel))}: no Telegram and no email: read with stegvis digest show")
    return "\n".join(lines)
