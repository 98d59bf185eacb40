"""The reports as tables in Swedish, and those tables as CSV for Swedish Excel or as an XLSX workbook.

A report becomes one or more `Table`s (a part each: per activity, per reason, per gender); an
XLSX file has a sheet per table with the month in a title row, a bold header row, frozen panes
below it and column widths that fit; a CSV file has one table (``csv_table``), UTF-8 with a BOM,
``;`` between fields and decimal commas, as Swedish Excel reads it without an import dialog.
Writing a file goes through a temporary file beside it, so a failure leaves no partial file.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from bot.features.reports.services import (
    GENDERS,
    PLACES,
    PRACTICE,
    REASONS,
    AttendanceCounts,
    AttendanceReport,
    AttendanceRow,
    CheckinFigures,
    CheckinReport,
    CheckinRow,
    Month,
)

Kind = Literal["text", "int", "percent", "decimal", "change", "points"]

MONTHS = ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober", "november", "december")
REASON_NAMES = {"sick": "sjuk", "child_sick": "barn sjukt", "other_appt": "annan tid", "transport": "kan inte ta sig dit", "other": "något annat"}
GENDER_NAMES = {"woman": "Kvinna", "man": "Man", "other": "Annat", "not_given": "Ej angivet"}
PRACTICE_NAMES = {"a_lot": "Övat mycket", "a_little": "Övat lite", "not_this_week": "Inte övat"}
PLACE_NAMES = {"sfi": "Plats: SFI", "language_cafe": "Plats: språkcafé", "work": "Plats: arbete/praktik", "home": "Plats: hemma", "friends": "Plats: med vänner"}
ALL = "Alla aktiviteter"
# How each kind of number is shown in XLSX (the value is stored as a number).
XLSX_FORMATS = {"int": "0", "percent": "0.0%", "decimal": "0.00", "change": "+0.00;-0.00;0.00", "points": "+0.0;-0.0;0.0"}
MAX_WIDTH = 45


@dataclass(frozen=True)
class Column:
    header: str
    kind: Kind = "int"


@dataclass
class Table:
    sheet: str  # the XLSX sheet's name (at most 31 characters)
    title: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)


def month_name(month: Month) -> str:
    return f"{MONTHS[month.month - 1]} {month.year}"


def _title(what: str, month: Month, organisation: str | None) -> str:
    return f"{what} {month_name(month)}" + (f", {organisation}" if organisation else "")


# Attendance

_ACTIVITY = [Column("Aktivitet-id", "text"), Column("Aktivitet", "text"), Column("Organisation", "text")]
_SESSIONS = [Column("Hållna träffar"), Column("Inställda träffar"), Column("Kommande träffar")]


def _attendance_columns() -> list[Column]:
    return [
        Column("Närvarande"), Column("Frånvarande"),
        *(Column(f"Frånvarande: {REASON_NAMES[r]}") for r in REASONS), Column("Frånvarande utan orsak"),
        Column("Ej rapporterade"), Column("Närvarograd", "percent"),
    ]


def _attendance_cells(counts: AttendanceCounts) -> list[Any]:
    return [counts.present, counts.absent, *(counts.absent_by_reason[r] for r in REASONS), counts.absent_no_reason, counts.unreported, counts.rate]


def _who(row: AttendanceRow | CheckinRow) -> list[Any]:
    return [row.activity.id, row.activity.name, row.activity.organisation] if row.activity else ["", ALL, ""]


def attendance_tables(report: AttendanceReport) -> list[Table]:
    """Per activity (and all together), per reason, and with ``by_gender`` per gender."""
    rows = [*report.rows, report.total]
    main = Table("Per aktivitet", _title("Närvaro", report.month, report.organisation), _ACTIVITY + _SESSIONS + _attendance_columns())
    main.rows = [_who(r) + [r.sessions_held, r.sessions_cancelled, r.sessions_upcoming] + _attendance_cells(r.counts) for r in rows]
    reasons = Table("Per orsak", _title("Frånvaro per orsak", report.month, report.organisation), _ACTIVITY + [Column("Orsak", "text"), Column("Antal")])
    for r in rows:
        reasons.rows += [_who(r) + [REASON_NAMES[reason], r.counts.absent_by_reason[reason]] for reason in REASONS]
        reasons.rows.append(_who(r) + ["utan orsak", r.counts.absent_no_reason])
    tables = [main, reasons]
    if report.by_gender:
        genders = Table("Per kön", _title("Närvaro per kön", report.month, report.organisation), _ACTIVITY + [Column("Kön", "text")] + _attendance_columns())
        genders.rows = [_who(r) + [GENDER_NAMES[g]] + _attendance_cells(r.by_gender[g]) for r in rows for g in GENDERS]
        tables.append(genders)
    return tables


def attendance_csv_table(report: AttendanceReport) -> Table:
    """The CSV's one table: the per-activity part, with ``by_gender`` each activity's rows per gender after its own."""
    if not report.by_gender:
        return attendance_tables(report)[0]
    table = Table("", "", _ACTIVITY + [Column("Kön", "text")] + _SESSIONS + _attendance_columns())
    for r in [*report.rows, report.total]:
        table.rows.append(_who(r) + ["Alla", r.sessions_held, r.sessions_cancelled, r.sessions_upcoming] + _attendance_cells(r.counts))
        table.rows += [_who(r) + [GENDER_NAMES[g], None, None, None] + _attendance_cells(r.by_gender[g]) for g in GENDERS]
    return table


# Check-ins


def _checkin_columns() -> list[Column]:
    return [
        Column("Skickade"), Column("Besvarade"), Column("Obesvarade"), Column("Väntar på svar"), Column("Andel besvarade", "percent"),
        *(Column(PRACTICE_NAMES[p]) for p in PRACTICE), *(Column(PLACE_NAMES[p]) for p in PLACES),
        Column("Svar om säkerhet"), Column("Säkerhet, medel (1-5)", "decimal"), Column("Röstmeddelanden"),
        Column("Säkerhet, medel förra månaden", "decimal"), Column("Ändring säkerhet", "change"),
        Column("Andel besvarade förra månaden", "percent"), Column("Ändring andel besvarade (procentenheter)", "points"),
    ]


def _checkin_cells(f: CheckinFigures) -> list[Any]:
    n = f.now
    return [
        n.sent, n.answered, n.unanswered, n.waiting, n.answered_share,
        *(n.practice[p] for p in PRACTICE), *(n.places[p] for p in PLACES),
        n.confidence_answers, n.confidence, n.voice_notes,
        f.before.confidence, f.confidence_change, f.before.answered_share, f.answered_share_change,
    ]


def checkin_tables(report: CheckinReport) -> list[Table]:
    rows = [*report.rows, report.total]
    main = Table("Per aktivitet", _title("Avstämningar", report.month, report.organisation), _ACTIVITY + _checkin_columns())
    main.rows = [_who(r) + _checkin_cells(r.figures) for r in rows]
    tables = [main]
    if report.by_gender:
        genders = Table("Per kön", _title("Avstämningar per kön", report.month, report.organisation), _ACTIVITY + [Column("Kön", "text")] + _checkin_columns())
        genders.rows = [_who(r) + [GENDER_NAMES[g]] + _checkin_cells(r.by_gender[g]) for r in rows for g in GENDERS]
        tables.append(genders)
    return tables


def checkin_csv_table(report: CheckinReport) -> Table:
    if not report.by_gender:
        return checkin_tables(report)[0]
    table = Table("", "", _ACTIVITY + [Column("Kön", "text")] + _checkin_columns())
    for r in [*report.rows, report.total]:
        table.rows.append(_who(r) + ["Alla"] + _checkin_cells(r.figures))
        table.rows += [_who(r) + [GENDER_NAMES[g]] + _checkin_cells(r.by_gender[g]) for g in GENDERS]
    return table


# CSV


def csv_cell(value: Any, kind: Kind) -> str:
    """A cell as Swedish Excel reads it: decimal comma, a percentage as percent (87,5), empty for none."""
    if value is None:
        return ""
    if kind == "text":
        return str(value)
    if kind == "int":
        return str(int(value))
    scaled = value * 100 if kind == "percent" else value
    # Rounded half up, as a person rounds (56.25 % → 56,3), not half to even as float formatting does.
    rounded = Decimal(repr(scaled)).quantize(Decimal("0.01") if kind in ("decimal", "change") else Decimal("0.1"), ROUND_HALF_UP)
    shown = f"{rounded:+}" if kind in ("change", "points") else f"{rounded}"
    return shown.replace(".", ",")


def csv_bytes(table: Table, month: Month) -> bytes:
    """UTF-8 with a BOM, ``;`` between fields, CRLF line ends; the month is every row's first field."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    percent = {"percent": " (%)"}
    writer.writerow(["Månad", *(c.header + percent.get(c.kind, "") for c in table.columns)])
    for row in table.rows:
        writer.writerow([str(month), *(csv_cell(value, c.kind) for value, c in zip(row, table.columns, strict=True))])
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


# XLSX


def xlsx_bytes(tables: Sequence[Table], title: str, now: datetime, tz: ZoneInfo) -> bytes:
    """A workbook with a sheet per table; its times are ``now`` (the injected clock), not the real one."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.writer.excel import ExcelWriter

    book = Workbook()
    book.remove(book.active)
    stamp = now.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)
    book.properties.title, book.properties.creator = title, "Stegvis"
    book.properties.created = book.properties.modified = stamp
    for table in tables:
        sheet = book.create_sheet(table.sheet[:31])
        sheet.append([table.title])
        sheet["A1"].font = Font(bold=True, size=13)
        sheet.append([c.header for c in table.columns])
        for cell in sheet[2]:
            cell.font = Font(bold=True)
        for row in table.rows:
            sheet.append(row)
        for index, column in enumerate(table.columns, start=1):
            letter = get_column_letter(index)
            if column.kind in XLSX_FORMATS:
                for (cell,) in sheet.iter_rows(min_row=3, min_col=index, max_col=index):
                    cell.number_format = XLSX_FORMATS[column.kind]
            longest = max([len(column.header), *(len(csv_cell(row[index - 1], column.kind)) for row in table.rows)])
            sheet.column_dimensions[letter].width = min(longest + 2, MAX_WIDTH)
        sheet.freeze_panes = "D3"  # the header and the activity stay in view
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(book, archive).save()  # openpyxl's save_workbook, without its own clock
    return _restamped(raw.getvalue(), now.astimezone(tz))


def _restamped(data: bytes, at: datetime) -> bytes:
    """The same zip with every member dated ``at``: zipfile dates members by the real clock."""
    stamp = (max(at.year, 1980), at.month, at.day, at.hour, at.minute, at.second)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            target.writestr(zipfile.ZipInfo(member.filename, date_time=stamp), source.read(member), compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


# Files


def check_writable(path: Path) -> str | None:
    """Why ``path`` cannot be written (in a caseworker's words), or None."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        return f"{path} is a folder; name a file"
    if not folder.is_dir():
        return f"there is no folder {folder}"
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"{path} cannot be written (no permission)"
    return None


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all: a temporary file beside it, then renamed over it."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, 0o640)  # a report names activities and counts people: not for everyone on the machine
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
