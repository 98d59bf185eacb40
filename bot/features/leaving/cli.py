"""``stegvis participant end | erase | export``: thin adapters over the leaving services."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.commands import Commands, Context, id_argument

if TYPE_CHECKING:
    from bot.config import Settings

REASONS = "work, studies, other_programme, moved or other"


def add_commands(commands: Commands) -> None:
    participant = commands.extend("participant")
    end = participant.command("end", help="end a participation: status finished, nothing more is sent, one goodbye in their language",
                              action=end_participation, human=ended_text, options={"participant": None, "date": "--date", "reason": "--reason"})
    end.add_argument("id", metavar="ID", type=id_argument)
    end.add_argument("--reason", required=True, metavar="REASON", help=f"where they go next, for the funders: {REASONS}")
    end.add_argument("--date", metavar="YYYY-MM-DD", help="the local date it ended (default: today)")
    erase = participant.command("erase", help="erase a participant's personal data (the statistics keep de-identified rows); without --confirm only shows what would go",
                                action=erase_participant, human=erased_text, options={"participant": None})
    erase.add_argument("id", metavar="ID", type=id_argument)
    erase.add_argument("--confirm", action="store_true", help="really erase (one transaction: everything or nothing)")
    export = participant.command("export", help="everything stored about one participant, for them: JSON or HTML in their language",
                                 action=export_participant, human=exported_text, options={"participant": None, "format": "--format", "output": "--output"})
    export.add_argument("id", metavar="ID", type=id_argument)
    export.add_argument("--format", default="html", metavar="json|html", help="html (default: in the participant's language, to print or send) or json")
    export.add_argument("--output", metavar="FILE", help="write it to FILE (replaced whole); without it, standard output")


async def end_participation(context: Context, args: argparse.Namespace) -> Any:
    from bot.cli.commands import invalid_option
    from bot.features.leaving import services
    from bot.validation import parse_date

    reason = invalid_option("reason", lambda: services.parse_reason(args.reason))
    on = invalid_option("date", lambda: parse_date(args.date)) if args.date is not None else None
    return await services.end_participation(context.session, context.actor, participant_id=args.id, reason=reason, on=on, tz=context.settings.tz, now=context.now)


def ended_text(result: Any, settings: Settings) -> str:
    goodbye = "a goodbye goes to them in their language" if result.goodbye else "no goodbye (they were not active on Telegram)"
    return (f"Participant {result.participant_id} ({result.name}) finished on {result.finished_on} ({result.reason}): nothing more is sent to them; "
            f"{goodbye}; {result.withdrawn} waiting message(s) withdrawn, {result.enrolments_ended} activity enrolment(s) ended.")


async def erase_participant(context: Context, args: argparse.Namespace) -> Any:
    from bot.features.leaving import services

    return await services.erase_participant(context.session, context.actor, participant_id=args.id, confirm=args.confirm, now=context.now)


def erased_text(result: Any, settings: Settings) -> str:
    head = (f"Participant {result.participant_id} erased:" if result.confirmed
            else f"Would erase participant {result.participant_id} (nothing changed; add --confirm to erase):")
    lines = [head] + [f"  {s.table:<16} {s.action:<12} {s.rows:>6}  {s.what}" for s in result.steps]
    return "\n".join(lines)


async def export_participant(context: Context, args: argparse.Namespace) -> Any:
    from bot.features.leaving import export
    from bot.features.reports import writers
    from bot.services import InvalidInput
    from locales import Catalogs

    chosen = args.format.strip().lower()
    if chosen not in ("json", "html"):
        raise InvalidInput(f"must be json or html, not {args.format!r}", field="format")
    output = Path(args.output) if args.output else None
    if output is not None and (why := writers.check_writable(output)) is not None:
        raise InvalidInput(why, field="output")
    found = await export.collect(context.session, context.actor, participant_id=args.id, now=context.now)
    content = export.as_json(found) if chosen == "json" else export.as_html(found, Catalogs(), context.settings.tz)
    if output is not None:
        try:
            writers.write_file(output, content.encode("utf-8"))
        except OSError as error:
            raise InvalidInput(f"{output} could not be written: {error.strerror or error}", field="output") from None
    return {"participant_id": found.participant_id, "format": chosen, "language": found.language, "output": str(output) if output else None,
            "sections": [s.key for s in found.sections], **({} if output else {"content": content})}


def exported_text(result: dict[str, Any], settings: Settings) -> str:
    if result["output"] is None:
        return result["content"].rstrip("\n")
    return f"Wrote everything stored about participant {result['participant_id']} ({result['format'].upper()}, language {result['language']}) to {result['output']}."
