"""``stegvis digest show``: any day's digest of one caseworker, as text (a terminal), HTML or JSON.

The ``digest`` group is this feature's; the delivery feature adds ``send`` and ``status`` to it
(``commands.extend("digest")``, listed after this one in FEATURES).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.cli.commands import Commands, Context, id_argument, invalid_option

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from bot.config import Settings
    from bot.features.digest.content import Digest

FORMATS = ("text", "html", "json")


def add_commands(commands: Commands) -> None:
    digest = commands.group("digest", help="the caseworker's daily digest of what happened with their participants")
    show = digest.command("show", help="one caseworker's digest of a day (default today), as text, HTML or JSON", action=show_it, human=shown, options={"caseworker": "--caseworker", "date": "--date", "format": "--format"})
    show.add_argument("--caseworker", required=True, metavar="ID", type=id_argument, help="the caseworker's id (as in: stegvis caseworker list)")
    show.add_argument("--date", metavar="YYYY-MM-DD", help="the digest's day, local time (STEGVIS_TIMEZONE); default today")
    show.add_argument("--format", default="text", metavar="text|html|json", help="text (default, for a terminal), html or json")


@dataclass(frozen=True)
class Shown:
    digest: Digest
    format: str
    settings: Settings

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        from bot.features.digest.render import render_json

        return render_json(self.digest, self.settings)


async def show_it(context: Context, args: argparse.Namespace) -> Shown:
    from bot.features.digest.content import build_digest
    from bot.services import InvalidInput
    from bot.validation import parse_date
    from storage import access_log

    chosen = args.format.strip().lower()
    if chosen not in FORMATS:
        raise InvalidInput(f"must be text, html or json, not {args.format!r}", field="format")
    day = invalid_option("date", lambda: parse_date(args.date)) if args.date else context.now.astimezone(context.settings.tz).date()
    digest = await build_digest(context.session, context.settings, caseworker_id=args.caseworker, day=day, now=context.now)
    await access_log.record(context.session, context.actor, access_log.DIGEST_SHOW, digest.participant_ids, now=context.now, detail=f"caseworker {args.caseworker}, {day.isoformat()}")
    return Shown(digest, chosen, context.settings)


def shown(result: Shown, settings: Settings) -> str:
    from bot.features.digest import render

    if result.format == "html":
        return render.render_html(result.digest, settings)
    if result.format == "json":
        return json.dumps(render.render_json(result.digest, settings), ensure_ascii=False, indent=2)
    return render.render_text(result.digest, settings)
