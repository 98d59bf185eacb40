"""``stegvis flows start | results``: send a flow to a group through the outbox, and list its answers.

The ``flows`` group is made here for now; the flow administration feature (``flows check |
publish | ...``) makes it too, and at the merge this becomes ``commands.extend("flows")``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.commands import Commands, Context, id_argument, invalid_option

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from bot.config import Settings
    from bot.features.surveys.services import Results, Started

OPTIONS = {"flow": None, "group": "--activity/--caseworker/--participants", "at": "--at", "activity": "--activity", "caseworker": "--caseworker", "participants": "--participants", "format": "--format", "output": "--output"}


def add_commands(commands: Commands) -> None:
    group = commands.extend("flows")  # the flow administration feature's group
    start = group.command("start", help="send a flow to a group through the outbox (quiet hours and rate limits as always; nobody twice)", action=start_it, human=started_text, options=OPTIONS)
    start.add_argument("flow", metavar="FLOW", help="the flow's id, e.g. course_eval")
    who = start.add_mutually_exclusive_group(required=True)
    who.add_argument("--activity", type=id_argument, metavar="ID", help="everyone enrolled in this activity")
    who.add_argument("--caseworker", type=id_argument, metavar="ID", help="every participant of this caseworker")
    who.add_argument("--participants", metavar="ID,ID,...", help="these participants, e.g. 3,5,8")
    start.add_argument("--at", metavar="YYYY-MM-DDTHH:MM", help="when to send, local time (default: now; quiet hours may hold it)")
    results = group.command("results", help="the answers per participant, from the events", action=results_it, human=results_shown, options=OPTIONS)
    results.add_argument("flow", metavar="FLOW")
    results.add_argument("--format", default="csv", metavar="csv|xlsx", help="csv (default: for Swedish Excel) or xlsx (needs --output)")
    results.add_argument("--output", metavar="FILE", help="write to FILE (replaced whole); without it a CSV goes to standard output")


def _ids(text: str) -> list[int]:
    from bot.validation import parse_id

    parts = [part.strip() for part in text.split(",")]
    if not any(parts):
        raise ValueError("must name participant ids, e.g. 3,5,8")
    return [parse_id(part, what="participant") for part in parts if part]


async def start_it(context: Context, args: argparse.Namespace) -> Started:
    from bot.features.surveys.services import start_flow
    from bot.validation import parse_at
    from flows.library import load_flows

    settings = context.settings
    participants = invalid_option("participants", lambda: _ids(args.participants)) if args.participants is not None else None
    at = invalid_option("at", lambda: parse_at(args.at, settings.tz, now=context.now)) if args.at else None
    return await start_flow(
        context.session, context.actor, flows=load_flows(), flow=args.flow, activity_id=args.activity, caseworker_id=args.caseworker,
        participant_ids=participants, at=at, now=context.now, tz=settings.tz, quiet=settings.quiet,
    )


def started_text(result: Started, settings: Settings) -> str:
    from bot.features.surveys.services import SKIPPED

    tz = settings.tz
    when = result.goes_out_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    held = " (after quiet hours)" if result.goes_out_at > result.due_at else ""
    lines = [f"{result.flow} to {result.group}: {len(result.planned)} planned, going out from {when}{held}"]
    if result.already:
        lines.append(f"{len(result.already)} already had it planned or sent: not again ({_list(result.already)})")
    for reason, ids in result.skipped.items():
        if ids:
            lines.append(f"{len(ids)} skipped: {SKIPPED[reason]} ({_list(ids)})")
    return "\n".join(lines)


def _list(ids: list[int]) -> str:
    return ", ".join(str(i) for i in ids[:20]) + (" …" if len(ids) > 20 else "")


@dataclass(frozen=True)
class Written:
    results: Results
    format: str
    content: bytes
    output: Path | None

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        return {**self.results.as_json(tz), "format": self.format, "output": str(self.output) if self.output else None}


async def results_it(context: Context, args: argparse.Namespace) -> Written:
    from bot.features.reports.writers import check_writable, write_file
    from bot.features.surveys.services import flow_results
    from bot.features.surveys.writers import results_csv, results_xlsx
    from bot.services import InvalidInput
    from flows.library import load_flows

    if args.format not in ("csv", "xlsx"):
        raise InvalidInput(f"unknown format {args.format!r}: use csv or xlsx", field="format")
    output = Path(args.output) if args.output else None
    if output is None and args.format == "xlsx":
        raise InvalidInput("xlsx needs --output FILE", field="format")
    if output is not None and (why := check_writable(output)) is not None:
        raise InvalidInput(why, field="output")
    results = await flow_results(context.session, context.actor, flows=load_flows(), flow=args.flow, now=context.now)
    tz = context.settings.tz
    content = results_csv(results, tz) if args.format == "csv" else results_xlsx(results, context.now, tz)
    if output is not None:
        write_file(output, content)
    return Written(results, args.format, content, output)


def results_shown(result: Written, settings: Settings) -> str | bytes:
    if result.output is None:
        return result.content
    return f"wrote {result.output}: {len(result.results.people)} participants, {len(result.results.questions)} questions"
