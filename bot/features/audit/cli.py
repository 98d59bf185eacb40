"""``stegvis audit --participant ID | --since YYYY-MM-DD``: who was shown whose data, from the access log."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bot.cli.commands import Command, Commands, Context, id_argument, invalid_option

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.features.audit.services import AuditListing

OPTIONS = {"participant": "--participant", "since": "--since"}


def add_commands(commands: Commands) -> None:
    audit = commands.top("audit", help="who was shown a participant's data, or everything shown since a day (the access log)")
    audit.add_argument("--json", action="store_true", help="print one JSON object")
    audit.add_argument("--participant", type=id_argument, metavar="ID", help="every time this participant's data was shown")
    audit.add_argument("--since", metavar="YYYY-MM-DD", help="from this local day on (with --participant: only those)")
    audit.set_defaults(command=Command(audit_it, audit_text, OPTIONS))


async def audit_it(context: Context, args: argparse.Namespace) -> AuditListing:
    from bot.features.audit.services import audit
    from bot.validation import parse_date

    since = invalid_option("since", lambda: parse_date(args.since)) if args.since is not None else None
    return await audit(context.session, context.actor, participant_id=args.participant, since=since, tz=context.settings.tz, now=context.now)


def audit_text(listing: AuditListing, settings: Settings) -> str:
    about = f"participant {listing.participant_id}" if listing.participant_id is not None else "anyone"
    since = f" since {listing.since.isoformat()}" if listing.since else ""
    if not listing.rows:
        return f"Nothing in the access log about {about}{since}."
    lines = [f"Shown to staff, about {about}{since} ({len(listing.rows)}):", f"{'when':<16}  {'who':<24} {'what':<20} {'participants':<20} detail"]
    for row in listing.rows:
        ids = ",".join(map(str, row.participant_ids))
        lines.append(f"{row.at.astimezone(settings.tz):%Y-%m-%d %H:%M}  {row.actor[:24]:<24} {row.what:<20} {ids[:20]:<20} {row.detail or ''}")
    return "\n".join(lines)
