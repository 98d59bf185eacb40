"""``stegvis digest send | status``: thin adapters over the delivery services.

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
