"""Importing appointments from a CSV file: every row checked first, then all booked together, or none.

The format (``docs/appointments.md``): a header ``participant_id,date,time,place,title,remind``
(the last two may be left out), one appointment per line, local dates and times. Every problem
of every row is reported with its line, and then nothing is imported. A good file is booked in
one short transaction of a few statements however many rows it has (10,000 rows in well under
three seconds), so a participant pressing a button meanwhile waits a moment, not a minute.
"""

from __future__ import annotations

import csv
import difflib
import io
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.features.appointments.booking import booked_event, reminder_plan, stored_leads
from bot.features.appointments.timing import LeadTime
from bot.features.appointments.views import AppointmentView, MessageView, lead_times_of, shown
from bot.services import Actor, InvalidInput
from bot.validation import check_not_too_far, clean_text, local_datetime, parse_date, parse_id, parse_remind, parse_time
from storage import appointments as store
from storage import outbox
from storage.models import AppointmentStatus, Event, OutboxStatus, Participant, ParticipantStatus

CSV_COLUMNS = ("participant_id", "date", "time", "place", "title", "remind")
# A case system's export may leave out the optional columns; the others must be there.
CSV_REQUIRED = ("participant_id", "date", "time", "place")


class ImportRejected(InvalidInput):
    """A CSV file with problems; nothing was imported. ``problems`` has one line per problem."""

    def __init__(self, message: str, problems: list[str] | tuple[str, ...] = ()) -> None:
        super().__init__(message, problems=problems)


@dataclass
class _Row:
    line: int
    participant_id: int | None = None
    starts_at: datetime | None = None
    place: str | None = None
    title: str | None = None
    lead_times: tuple[LeadTime, ...] | None = None
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True, repr=False)
class Imported:
    appointments: list[AppointmentView]

    def __repr__(self) -> str:
        return f"Imported({len(self.appointments)} appointments)"


async def import_appointments(session: AsyncSession, actor: Actor, settings: Settings, path: str | Path, *, now: datetime) -> Imported:
    """Book every row of a CSV file in the caller's transaction, or none: raises ImportRejected listing every problem."""
    name = str(path)
    text = _read_text(Path(path), name)
    header_line, header, records = _read_csv(text, name)
    columns = _check_header(header, header_line, name)
    rows = [_parse_row(line, values, columns, settings.tz, now) for line, values in records]
    if not rows:
        raise ImportRejected(f"{name}: has a header but no appointments")

    ids = {row.participant_id for row in rows if row.participant_id is not None}
    known = set(await session.scalars(select(Participant.id).where(Participant.id.in_(ids)))) if ids else set()
    booked = await store.booked_at(session, known)
    first_seen: dict[tuple[int, datetime], int] = {}
    for row in rows:
        if row.participant_id is not None and row.participant_id not in known:
            row.problems.append(f"line {row.line}: participant_id: no participant with id {row.participant_id}")
        if row.participant_id is None or row.starts_at is None:
            continue
        key = (row.participant_id, row.starts_at)
        if key in first_seen:
            row.problems.append(f"line {row.line}: duplicate: same participant and time as line {first_seen[key]} (participant {row.participant_id}, {shown(row.starts_at, settings.tz)})")
        else:
            first_seen[key] = row.line
        if key in booked:
            row.problems.append(f"line {row.line}: duplicate: participant {row.participant_id} already has appointment {booked[key]} at {shown(row.starts_at, settings.tz)}")

    bad = [row for row in rows if row.problems]
    if bad:
        raise ImportRejected(f"{name}: nothing was imported: {len(bad)} of {len(rows)} rows have problems", [problem for row in bad for problem in row.problems])
    return Imported(await _book_all(session, settings, rows, now))


@dataclass(frozen=True)
class _Booked:
    """An appointment the import has just inserted (a `booking.Booking`), without an ORM object each."""

    id: int
    participant_id: int
    starts_at: datetime
    place: str
    title: str | None
    lead_times: str | None
    version: int = 1


async def _book_all(session: AsyncSession, settings: Settings, rows: list[_Row], now: datetime) -> list[AppointmentView]:
    """Every checked row booked in three statements: the appointments, their reminders, their events."""
    values: list[dict[str, Any]] = [
        {
            "participant_id": row.participant_id,
            "starts_at": row.starts_at,
            "place": row.place,
            "title": row.title,
            "lead_times": stored_leads(row.lead_times),
            "version": 1,
            "status": AppointmentStatus.BOOKED,
            "created_at": now,
            "updated_at": now,
        }
        for row in rows
    ]
    ids = await store.add_many(session, values)
    booked = [_Booked(i, v["participant_id"], v["starts_at"], v["place"], v["title"], v["lead_times"]) for i, v in zip(ids, values)]
    plans = [reminder_plan(appointment, settings, now) for appointment in booked]
    await outbox.enqueue_many(session, [planned for plan in plans for planned in plan], now=now)
    events = [
        {"type": "appointment_booked", "participant_id": a.participant_id, "occurred_at": now, "payload": booked_event(a), "flow": None, "step": None}
        for a in booked
    ]
    connection = await session.connection()
    await connection.execute(insert(Event), events)
    statuses = dict((await connection.execute(select(Participant.id, Participant.status).where(Participant.id.in_({a.participant_id for a in booked})))).all())
    # What was just written, as `appointment list` would show it, without reading it all back.
    return [
        AppointmentView(
            id=a.id,
            participant_id=a.participant_id,
            participant_status=ParticipantStatus(statuses[a.participant_id]).value,
            starts_at=a.starts_at,
            place=a.place,
            title=a.title,
            version=1,
            status=AppointmentStatus.BOOKED.value,
            lead_times=tuple(str(lead) for lead in lead_times_of(a, settings.lead_times)),
            answer=None,
            answered_at=None,
            attended=None,
            messages=tuple(MessageView("reminder", p.due_at, OutboxStatus.PENDING.value, 1, p.slot, bool(p.payload.get("immediate"))) for p in plan),
        )
        for a, plan in zip(booked, plans)
    ]


def _read_text(path: Path, name: str) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImportRejected(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ImportRejected(f"{name}: is a folder, not a CSV file") from None
    except PermissionError:
        raise ImportRejected(f"{name}: cannot be read (permission denied)") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ImportRejected(f'{name}: is not UTF-8 text (line {line} has a byte UTF-8 does not allow); in Excel use Save As "CSV UTF-8 (comma delimited)"') from None
    if not text.strip():
        raise ImportRejected(f"{name}: the file is empty; the first line must be the header: {','.join(CSV_COLUMNS)}")
    return text


def _read_csv(text: str, name: str) -> tuple[int, list[str], list[tuple[int, list[str]]]]:
    """(header line, header cells, [(first line of the row, cells)]); blank lines are skipped."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    header_line = 0
    records: list[tuple[int, list[str]]] = []
    last = 0
    try:
        for values in reader:
            # A quoted field may span lines; the row begins on the line after the previous one.
            line, last = last + 1, reader.line_num
            if not any(value.strip() for value in values):
                continue  # an empty line, or a spreadsheet's row of empty cells
            if header is None:
                header, header_line = values, line
            else:
                records.append((line, values))
    except csv.Error as error:
        raise ImportRejected(f"{name}: nothing was imported: the file is not valid CSV", [f"line {last + 1}: cannot be read as CSV: {error}"]) from None
    if header is None:  # only blank lines
        raise ImportRejected(f"{name}: the file is empty; the first line must be the header: {','.join(CSV_COLUMNS)}")
    return header_line, header, records


def _check_header(header: list[str], line: int, name: str) -> dict[str, int]:
    """Column name → position; ImportRejected naming every missing, unknown or repeated column."""
    expected = ",".join(CSV_COLUMNS)
    names = [cell.strip().lower() for cell in header]
    if len(header) == 1 and ";" in header[0]:
        # Swedish Excel saves "CSV" with semicolons unless told otherwise.
        raise ImportRejected(f"{name}: nothing was imported: the header is not right", [f'line {line}: header: the columns are separated by ";"; save the file with commas ("CSV UTF-8 (comma delimited)") and the header {expected}'])
    if not set(names) & set(CSV_COLUMNS):
        raise ImportRejected(f"{name}: nothing was imported: the header is not right", [f'line {line}: header: the first line must be the header {expected}, not "{",".join(header)}"'])
    problems = []
    seen: set[str] = set()
    for cell, column in zip(header, names):
        if column in seen:
            problems.append(f'line {line}: header: column "{column}" appears twice')
        elif column not in CSV_COLUMNS:
            close = difflib.get_close_matches(column, [c for c in CSV_COLUMNS if c not in names], n=1)
            hint = f'; did you mean "{close[0]}"?' if close else f"; the columns are {expected}"
            problems.append(f'line {line}: header: unknown column "{cell.strip()}"{hint}')
        seen.add(column)
    problems += [f'line {line}: header: missing column "{column}"' for column in CSV_REQUIRED if column not in names]
    if problems:
        raise ImportRejected(f"{name}: nothing was imported: the header is not right", problems)
    return {column: names.index(column) for column in CSV_COLUMNS if column in names}


def _parse_row(line: int, values: list[str], columns: dict[str, int], tz: ZoneInfo, now: datetime) -> _Row:
    row = _Row(line)
    width = len(columns)
    if len(values) != width:
        hint = " (a place or title with a comma must be in double quotes)" if len(values) > width else ""
        row.problems.append(f"line {line}: has {len(values)} fields but the header has {width}{hint}")
        return row

    def cell(column: str) -> str:
        return values[columns[column]].strip() if column in columns else ""

    def check(column: str, parse: Any) -> Any:
        try:
            return parse(cell(column))
        except ValueError as error:
            row.problems.append(f"line {line}: {column}: {error}")
            return None

    row.participant_id = check("participant_id", parse_id)
    day = check("date", parse_date)
    clock = check("time", parse_time)
    if day is not None and clock is not None:
        row.starts_at = check("time", lambda _text: local_datetime(day, clock, tz))
        if row.starts_at is not None and row.starts_at <= now:
            row.problems.append(f"line {line}: date: {shown(row.starts_at, tz)} is in the past")
            row.starts_at = None
        elif row.starts_at is not None:
            try:
                check_not_too_far(row.starts_at, now, tz=tz)
            except ValueError as error:
                row.problems.append(f"line {line}: date: {error}")
                row.starts_at = None
    row.place = check("place", lambda text: clean_text(text, required=True))
    row.title = check("title", lambda text: clean_text(text, required=False))
    row.lead_times = check("remind", lambda text: parse_remind([text]) if text else None)
    return row
