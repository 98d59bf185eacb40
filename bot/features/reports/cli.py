"""``stegvis report attendance | checkins``: one month's report as CSV (standard output or a file) or XLSX (a file).

A thin adapter: it checks the month, the format and the output file before anything is read,
calls one report service, turns the report into tables (``writers.py``) and writes them whole
or not at all. With ``--json`` it prints the report's figures as one JSON object instead of the
CSV (and still writes ``--output`` when one is named).
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
    from bot.features.reports.services import AttendanceReport, CheckinReport

FORMATS = ("csv", "xlsx")
OPTIONS = {"activity": "--activity", "organisation": "--organisation", "month": "--month", "format": "--format", "output": "--output"}


def add_commands(commands: Commands) -> None:
    report = commands.group("report", help="monthly reports for the funders: attendance and practice check-ins per activity")
    attendance = report.command("attendance", help="sessions held and cancelled, present, absent by reason, unreported and the attendance rate per activity", action=attendance_it, human=shown, options=OPTIONS)
    _options(attendance)
    checkins = report.command("checkins", help="the weekly practice check-ins per activity: answers, places, confidence, and the change from the month before", action=checkins_it, human=shown, options=OPTIONS)
    _options(checkins)


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--month", required=True, metavar="YYYY-MM", help="the calendar month, in local time (STEGVIS_TIMEZONE), e.g. 2027-01")
    parser.add_argument("--organisation", metavar="NAME", help="only the activities this organisation runs (as in: stegvis activity list)")
    parser.add_argument("--activity", type=id_argument, metavar="ID", help="only this activity")
    parser.add_argument("--format", default="csv", metavar="csv|xlsx", help="csv (default: UTF-8 with BOM, ';' separated, for Swedish Excel) or xlsx (needs --output)")
    parser.add_argument("--by-gender", action="store_true", help="also split every figure by gender (woman, man, other, not given)")
    parser.add_argument("--output", metavar="FILE", help="write the report to FILE (replaced whole); without it a CSV goes to standard output")


@dataclass(frozen=True)
class Written:
    """A report made: its figures, its file's content, and where it went (None: standard output)."""

    report: AttendanceReport | CheckinReport
    format: str
    content: bytes
    output: Path | None

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        return {**self.report.as_json(tz), "format": self.format, "output": str(self.output) if self.output else None}


def _checked(args: argparse.Namespace) -> tuple[Any, str, Path | None]:
    from bot.features.reports.services import parse_month
    from bot.features.reports.writers import check_writable
    from bot.services import InvalidInput

    month = invalid_option("month", lambda: parse_month(args.month))
    chosen = args.format.strip().lower()
    if chosen not in FORMATS:
        raise InvalidInput(f"must be csv or xlsx, not {args.format!r}", field="format")
    output = Path(args.output) if args.output else None
    if output is None and chosen == "xlsx" and not args.json:
        raise InvalidInput("an XLSX report is a file: name it with --output FILE (or use --format csv for standard output)", field="format")
    if output is not None and (why := check_writable(output)) is not None:
        raise InvalidInput(why, field="output")
    return month, chosen, output


async def attendance_it(context: Context, args: argparse.Namespace) -> Written:
    from bot.features.reports import services, writers

    month, chosen, output = _checked(args)
    report = await services.attendance_report(
        context.session, context.actor, context.settings, month=month, organisation=args.organisation, activity_id=args.activity, by_gender=args.by_gender, now=context.now
    )
    tables, csv_table = writers.attendance_tables(report), writers.attendance_csv_table(report)
    return _write(context, args, report, chosen, output, tables, csv_table, f"Närvaro {writers.month_name(month)}")


async def checkins_it(context: Context, args: argparse.Namespace) -> Written:
    from bot.features.reports import services, writers

    month, chosen, output = _checked(args)
    report = await services.checkin_report(
        context.session, context.actor, context.settings, month=month, organisation=args.organisation, activity_id=args.activity, by_gender=args.by_gender, now=context.now
    )
    tables, csv_table = writers.checkin_tables(report), writers.checkin_csv_table(report)
    return _write(context, args, report, chosen, output, tables, csv_table, f"Avstämningar {writers.month_name(month)}")


def _write(context: Context, args: argparse.Namespace, report: Any, chosen: str, output: Path | None, tables: list[Any], csv_table: Any, title: str) -> Written:
    from bot.features.reports import writers
    from bot.services import InvalidInput

    if chosen == "xlsx":
        content = writers.xlsx_bytes(tables, title, context.now, context.settings.tz)
    else:
        content = writers.csv_bytes(csv_table, report.month)
    if output is not None:
        try:
            writers.write_file(output, content)
        except OSError as error:
            raise InvalidInput(f"{output} could not be written: {error.strerror or error}", field="output") from None
    return Written(report, chosen, content, output)


def shown(written: Written, settings: Settings) -> str | bytes:
    if written.output is None:
        return written.content  # the CSV itself, on standard output
    what = "attendance" if written.report.as_json()["report"] == "attendance" else "check-in"
    count = len(written.report.rows)
    return f"Wrote the {what} report for {written.report.month} ({count} {'activity' if count == 1 else 'activities'}) to {written.output} ({written.format.upper()})."
