"""Booking appointments and planning their reminders: what caseworkers do from the CLI, as functions.

Each function takes the ``database`` (or a ``session``) and ``settings``, opens and commits its own
transaction, and accepts ``now`` so tests and the demo are deterministic. A booking writes the
appointment, one outbox row per reminder and an event in one transaction, so a crash never leaves
an appointment without its reminders. Times are stored in UTC and shown in ``settings.tz``.
Refusals raise ``AdminError`` whose text is one line for the caseworker.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.admin import AdminError
from bot.config import Settings
from bot.reminders.timing import LeadTime, PlannedReminder, next_allowed_moment, parse_lead_times, plan_reminders
from storage import appointments as store
from storage import outbox
from storage import repositories as repo
from storage.database import Database
from storage.models import Appointment, AppointmentStatus, OutboxMessage, OutboxStatus, Participant, utcnow

CSV_COLUMNS = ("participant_id", "date", "time", "place", "title", "remind")
# A case system's export may leave out the optional columns; the others must be there.
CSV_REQUIRED = ("participant_id", "date", "time", "place")
MAX_TEXT = 200
# Pending notices of an older version are as stale as its reminders once the appointment changes.
_WITHDRAWN_KINDS = ("reminder", "moved")
_CHANGED = "appointment {} was changed by someone else at the same moment; look again with: stegvis appointment list"

_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})")
_AT_RE = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{1,2}:\d{2})(?::(\d{2}))?(Z|[+-]\d{2}:?\d{2})?", re.IGNORECASE)


class ImportRejected(AdminError):
    """A CSV file with problems; nothing was imported. ``problems`` has one line per problem."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


# Parsing what caseworkers type. Each raises ValueError with the reason only; the caller adds the
# option (--at) or the CSV line and column, so the same words serve the CLI and the import.


def parse_date(text: str) -> date:
    shown = text.strip()
    match = _DATE_RE.fullmatch(shown)
    try:
        if match is None:
            raise ValueError
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        raise ValueError(f'"{shown}" is not a date; use YYYY-MM-DD, e.g. 2026-11-24') from None


def parse_time(text: str) -> time:
    shown = text.strip()
    match = _TIME_RE.fullmatch(shown)
    try:
        if match is None:
            raise ValueError
        return time(int(match[1]), int(match[2]))
    except ValueError:
        raise ValueError(f'"{shown}" is not a time; use HH:MM (24-hour clock), e.g. 10:30') from None


def local_datetime(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """The instant (UTC) of a local date and time; refuses times a DST change skips or repeats."""
    wall = datetime.combine(day, clock)
    aware = wall.replace(tzinfo=tz)
    if aware.astimezone(timezone.utc).astimezone(tz).replace(tzinfo=None) != wall:
        raise ValueError(f"{wall:%Y-%m-%d %H:%M} does not exist in {tz.key}: the clocks go forward that night; pick another time")
    if aware.replace(fold=0).utcoffset() != aware.replace(fold=1).utcoffset():
        # Guessing which of the two would put someone an hour early or late.
        raise ValueError(f"{wall:%Y-%m-%d %H:%M} happens twice in {tz.key}: the clocks go back that night; pick another time")
    return aware.astimezone(timezone.utc)


def parse_at(text: str, tz: ZoneInfo) -> datetime:
    """``2026-11-24T10:30`` in local time (a UTC offset, as in our JSON output, is honoured)."""
    shown = text.strip()
    match = _AT_RE.fullmatch(shown)
    if match is None:
        raise ValueError(f'"{shown}" is not a date and time; use YYYY-MM-DDTHH:MM in local time ({tz.key}), e.g. 2026-11-24T10:30')
    day, clock = parse_date(match[1]), parse_time(match[2])
    if match[3]:
        if int(match[3]) > 59:
            raise ValueError(f'"{shown}" is not a date and time; use YYYY-MM-DDTHH:MM in local time ({tz.key}), e.g. 2026-11-24T10:30')
        clock = clock.replace(second=int(match[3]))
    if match[4]:
        offset = match[4].upper()
        return datetime.fromisoformat(f"{day.isoformat()}T{clock.isoformat()}{'+00:00' if offset == 'Z' else offset}").astimezone(timezone.utc)
    return local_datetime(day, clock, tz)


def parse_remind(values: Iterable[str]) -> tuple[LeadTime, ...]:
    """``["3d", "1d"]``, ``["3d,1d"]`` or ``["3d 1d"]`` → lead times, longest first, no duplicates."""
    leads: set[LeadTime] = set()
    for value in values:
        # "3 d" is one lead time (LeadTime.parse accepts it); only then split on spaces and commas.
        joined = re.sub(r"(\d)\s+([A-Za-z])", r"\1\2", value)
        items = [item for item in re.split(r"[\s,]+", joined) if item]
        if not items:
            raise ValueError("no lead time given; use e.g. 3d, 1d or 2h")
        leads.update(LeadTime.parse(item) for item in items)
    return tuple(sorted(leads, reverse=True))


def clean_text(value: str | None, *, required: bool) -> str | None:
    """Place or title on one line; ValueError when empty (if required) or too long."""
    text = " ".join((value or "").split())
    if not text:
        if required:
            raise ValueError("must not be empty")
        return None
    if len(text) > MAX_TEXT:
        raise ValueError(f"is longer than {MAX_TEXT} characters")
    return text


# Planning reminders


def lead_times_of(appointment: Appointment, settings: Settings) -> tuple[LeadTime, ...]:
    """The appointment's own lead times, or the global STEGVIS_REMINDER_LEAD_TIMES."""
    return parse_lead_times(appointment.lead_times) if appointment.lead_times else settings.lead_times


async def plan_appointment_reminders(
    session: AsyncSession, settings: Settings, appointment: Appointment, now: datetime
) -> list[tuple[PlannedReminder, bool]]:
    """Put the current version's reminders in the outbox; (reminder, newly added) for each.

    Idempotent: the keys name appointment, version and lead time, so planning again adds nothing.
    """
    planned = plan_reminders(appointment.starts_at, lead_times_of(appointment, settings), now=now, tz=settings.tz, quiet=settings.quiet)
    added = []
    for reminder in planned:
        created = await outbox.enqueue(
            session,
            key=outbox.reminder_key(appointment.id, appointment.version, str(reminder.lead)),
            participant_id=appointment.participant_id,
            kind="reminder",
            due_at=reminder.due_at,
            appointment_id=appointment.id,
            payload={"lead": str(reminder.lead), "immediate": reminder.immediate},
        )
        added.append((reminder, created))
    return added


async def _notify(session: AsyncSession, settings: Settings, appointment: Appointment, kind: str, now: datetime, payload: dict[str, Any] | None = None) -> datetime | None:
    """Plan a "moved"/"cancelled" notice at the first moment outside quiet hours.

    None when that moment is not before the appointment: a notice after the fact helps no one,
    and the caseworker is told to reach the participant another way.
    """
    due = next_allowed_moment(now, settings.quiet, settings.tz)
    if due >= appointment.starts_at:
        return None
    await outbox.enqueue(
        session,
        key=outbox.notice_key(appointment.id, appointment.version, kind),
        participant_id=appointment.participant_id,
        kind=kind,
        due_at=due,
        appointment_id=appointment.id,
        payload=payload,
    )
    return due


# Booking, moving, cancelling


async def book_appointment(
    database: Database,
    settings: Settings,
    participant_id: int,
    starts_at: datetime,
    place: str,
    title: str | None = None,
    lead_times: Sequence[LeadTime] | None = None,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Book an appointment and plan its reminders; returns it as `appointment_view` shows it.

    ``lead_times`` None means the global setting (and is stored as None, so a later change of
    STEGVIS_REMINDER_LEAD_TIMES applies when the appointment is moved).
    """
    now = _now(now)
    _require_aware(starts_at, "--at")
    place_text = _option_text(place, "--place", required=True)
    title_text = _option_text(title, "--title", required=True) if title is not None else None
    if lead_times is not None and not lead_times:
        raise AdminError("--remind: no lead time given; use e.g. 3d, 1d or 2h")
    _check_future(starts_at, now, settings.tz, "--at")
    async with database.sessions() as session:
        if await repo.get_participant(session, participant_id) is None:
            raise AdminError(f"--participant: no participant with id {participant_id} (see: stegvis participant list)")
        existing = (await store.booked_at(session, [participant_id])).get((participant_id, starts_at))
        if existing is not None:
            raise AdminError(f"--at: participant {participant_id} already has appointment {existing} at {_shown(starts_at, settings.tz)}")
        appointment = await _book(session, settings, participant_id, starts_at, place_text, title_text, lead_times, now)  # type: ignore[arg-type]
        await session.commit()
        return await _view_one(session, settings, appointment)


async def _book(session: AsyncSession, settings: Settings, participant_id: int, starts_at: datetime, place: str, title: str | None, lead_times: Sequence[LeadTime] | None, now: datetime) -> Appointment:
    stored = ",".join(str(lead) for lead in sorted(set(lead_times), reverse=True)) if lead_times else None
    appointment = await store.add_appointment(session, participant_id, starts_at, place, title, stored, now=now)
    await plan_appointment_reminders(session, settings, appointment, now)
    await repo.append_event(
        session,
        "appointment_booked",
        participant_id,
        {"appointment_id": appointment.id, "starts_at": _utc_iso(starts_at), "version": appointment.version},
        occurred_at=now,
    )
    return appointment


async def move_appointment(
    database: Database, settings: Settings, appointment_id: int, starts_at: datetime, *, now: datetime | None = None
) -> dict[str, Any]:
    """Move to a new time: version + 1, old reminders withdrawn, fresh ones, and a "moved" notice."""
    now = _now(now)
    _require_aware(starts_at, "--at")
    tz = settings.tz
    async with database.sessions() as session:
        appointment = await _get(session, appointment_id, for_update=True)
        if appointment.status == AppointmentStatus.CANCELLED:
            raise AdminError(f"appointment {appointment_id} is cancelled and cannot be moved; book a new one with: stegvis appointment add")
        if appointment.starts_at <= now:
            raise AdminError(f"appointment {appointment_id} was at {_shown(appointment.starts_at, tz)} and can no longer be moved; book a new one with: stegvis appointment add")
        _check_future(starts_at, now, tz, "--at")
        if starts_at == appointment.starts_at:
            raise AdminError(f"--at: appointment {appointment_id} is already at {_shown(starts_at, tz)}")
        existing = (await store.booked_at(session, [appointment.participant_id])).get((appointment.participant_id, starts_at))
        if existing is not None:
            raise AdminError(f"--at: participant {appointment.participant_id} already has appointment {existing} at {_shown(starts_at, tz)}")

        previous = appointment.starts_at
        if not await store.reschedule(session, appointment, starts_at, now):
            raise AdminError(_CHANGED.format(appointment_id))
        # If the participant was never told about the last move (its notice is still pending),
        # the new notice should name the time they actually know.
        unsent_notice = await session.scalar(
            select(OutboxMessage).where(
                OutboxMessage.appointment_id == appointment.id,
                OutboxMessage.kind == "moved",
                OutboxMessage.status == OutboxStatus.PENDING,
            ).order_by(OutboxMessage.id).limit(1)
        )
        known = unsent_notice.payload.get("previous_starts_at") if unsent_notice is not None else None
        await outbox.cancel_pending(session, appointment.id, kinds=_WITHDRAWN_KINDS)
        await plan_appointment_reminders(session, settings, appointment, now)
        await _notify(session, settings, appointment, "moved", now, {"previous_starts_at": known or _utc_iso(previous)})
        await repo.append_event(
            session,
            "appointment_moved",
            appointment.participant_id,
            {"appointment_id": appointment.id, "starts_at": _utc_iso(starts_at), "previous_starts_at": _utc_iso(previous), "version": appointment.version},
            occurred_at=now,
        )
        await session.commit()
        return await _view_one(session, settings, appointment)


async def cancel_appointment(
    database: Database, settings: Settings, appointment_id: int, *, now: datetime | None = None
) -> dict[str, Any]:
    """Cancel: pending reminders withdrawn, a "cancelled" notice if it can still arrive in time."""
    now = _now(now)
    async with database.sessions() as session:
        appointment = await _get(session, appointment_id, for_update=True)
        if appointment.status == AppointmentStatus.CANCELLED:
            raise AdminError(f"appointment {appointment_id} is already cancelled")
        if not await store.mark_cancelled(session, appointment, now):
            raise AdminError(f"appointment {appointment_id} is already cancelled")
        await outbox.cancel_pending(session, appointment.id, kinds=_WITHDRAWN_KINDS)
        if appointment.starts_at > now:
            await _notify(session, settings, appointment, "cancelled", now)
        await repo.append_event(
            session,
            "appointment_cancelled",
            appointment.participant_id,
            {"appointment_id": appointment.id, "starts_at": _utc_iso(appointment.starts_at), "version": appointment.version},
            occurred_at=now,
        )
        await session.commit()
        return await _view_one(session, settings, appointment)


async def record_attendance(
    database: Database, settings: Settings, appointment_id: int, attended: bool, *, now: datetime | None = None
) -> dict[str, Any]:
    """What happened at the appointment; may be corrected later (each answer is an event)."""
    now = _now(now)
    async with database.sessions() as session:
        appointment = await _get(session, appointment_id, for_update=True)
        if appointment.status == AppointmentStatus.CANCELLED:
            raise AdminError(f"appointment {appointment_id} was cancelled; there is no attendance to record")
        if appointment.starts_at > now:
            raise AdminError(f"appointment {appointment_id} starts at {_shown(appointment.starts_at, settings.tz)}; record attendance once it has started")
        appointment.attended = attended
        appointment.updated_at = now
        await repo.append_event(
            session,
            "appointment_attended",
            appointment.participant_id,
            {"appointment_id": appointment.id, "attended": attended},
            occurred_at=now,
        )
        await session.commit()
        return await _view_one(session, settings, appointment)


async def record_unanswered(database: Database, settings: Settings, now: datetime) -> list[int]:
    """Record "unanswered" for booked appointments that started with no answer; their ids.

    Idempotent and safe to run from several processes at once (see store.mark_unanswered).
    """
    now = _now(now)
    async with database.sessions() as session:
        changed = await store.mark_unanswered(session, now)
        for appointment in changed:
            await repo.append_event(
                session,
                "appointment_unanswered",
                appointment.participant_id,
                {"appointment_id": appointment.id, "starts_at": _utc_iso(appointment.starts_at), "version": appointment.version},
                occurred_at=now,
            )
        await session.commit()
        return [appointment.id for appointment in changed]


async def list_appointments(database: Database, settings: Settings, participant_id: int | None = None) -> dict[str, Any]:
    """``{"appointments": [...]}``, each with its reminders, notices and latest answer."""
    async with database.sessions() as session:
        if participant_id is not None and await repo.get_participant(session, participant_id) is None:
            raise AdminError(f"--participant: no participant with id {participant_id} (see: stegvis participant list)")
        appointments = await store.list_appointments(session, participant_id)
        return {"appointments": await _views(session, settings, appointments)}


# Import


@dataclass
class _Row:
    line: int
    participant_id: int | None = None
    starts_at: datetime | None = None
    place: str | None = None
    title: str | None = None
    lead_times: tuple[LeadTime, ...] | None = None
    problems: list[str] = field(default_factory=list)


async def import_appointments(database: Database, settings: Settings, path: str | Path, *, now: datetime | None = None) -> dict[str, Any]:
    """Book every row of a CSV file in one transaction, or none: raises ImportRejected listing every problem."""
    now = _now(now)
    name = str(path)
    text = _read_text(Path(path), name)
    header_line, header, records = _read_csv(text, name)
    columns = _check_header(header, header_line, name)
    rows = [_parse_row(line, values, columns, settings.tz, now) for line, values in records]
    if not rows:
        raise ImportRejected(f"{name}: has a header but no appointments")

    async with database.sessions() as session:
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
                row.problems.append(f"line {row.line}: duplicate: same participant and time as line {first_seen[key]} (participant {row.participant_id}, {_shown(row.starts_at, settings.tz)})")
            else:
                first_seen[key] = row.line
            if key in booked:
                row.problems.append(f"line {row.line}: duplicate: participant {row.participant_id} already has appointment {booked[key]} at {_shown(row.starts_at, settings.tz)}")

        bad = [row for row in rows if row.problems]
        if bad:
            raise ImportRejected(
                f"{name}: nothing was imported: {len(bad)} of {len(rows)} rows have problems",
                [problem for row in bad for problem in row.problems],
            )
        appointments = [
            await _book(session, settings, row.participant_id, row.starts_at, row.place, row.title, row.lead_times, now)  # type: ignore[arg-type]
            for row in rows
        ]
        await session.commit()
        return {"imported": len(appointments), "appointments": await _views(session, settings, appointments)}


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

    row.participant_id = check("participant_id", _parse_id)
    day = check("date", lambda text: parse_date(_nonempty(text)))
    clock = check("time", lambda text: parse_time(_nonempty(text)))
    if day is not None and clock is not None:
        row.starts_at = check("time", lambda _text: local_datetime(day, clock, tz))
        if row.starts_at is not None and row.starts_at <= now:
            row.problems.append(f"line {line}: date: {_shown(row.starts_at, tz)} is in the past")
            row.starts_at = None
    row.place = check("place", lambda text: clean_text(text, required=True))
    row.title = check("title", lambda text: clean_text(text, required=False))
    row.lead_times = check("remind", lambda text: parse_remind([text]) if text else None)
    return row


def _parse_id(text: str) -> int:
    if not text:
        raise ValueError("must not be empty")
    if not text.isascii() or not text.isdigit():
        raise ValueError(f'"{text}" is not a participant id; use the number from: stegvis participant list')
    return int(text)


def _nonempty(text: str) -> str:
    if not text:
        raise ValueError("must not be empty")
    return text


# Showing appointments


async def _view_one(session: AsyncSession, settings: Settings, appointment: Appointment) -> dict[str, Any]:
    return (await _views(session, settings, [appointment]))[0]


async def _views(session: AsyncSession, settings: Settings, appointments: Sequence[Appointment]) -> list[dict[str, Any]]:
    messages = await store.outbox_messages(session, [a.id for a in appointments])
    return [appointment_view(a, messages.get(a.id, []), settings) for a in appointments]


def appointment_view(appointment: Appointment, messages: Sequence[OutboxMessage], settings: Settings) -> dict[str, Any]:
    """An appointment as the CLI's JSON shows it: local times with their offset."""
    tz = settings.tz
    reminders, notices = [], []
    for message in messages:
        status = _value(message.status)
        version = _version_of(message.idempotency_key)
        if message.kind == "reminder":
            reminders.append({"lead": message.payload.get("lead"), "due_at": _local_iso(message.due_at, tz), "status": status, "version": version, "immediate": bool(message.payload.get("immediate"))})
        else:
            notices.append({"kind": message.kind, "due_at": _local_iso(message.due_at, tz), "status": status, "version": version})
    return {
        "id": appointment.id,
        "participant_id": appointment.participant_id,
        "starts_at": _local_iso(appointment.starts_at, tz),
        "place": appointment.place,
        "title": appointment.title,
        "version": appointment.version,
        "status": _value(appointment.status),
        "lead_times": [str(lead) for lead in lead_times_of(appointment, settings)],
        "answer": appointment.answer,
        "answered_at": _local_iso(appointment.answered_at, tz) if appointment.answered_at else None,
        "attended": appointment.attended,
        "reminders": reminders,
        "notices": notices,
    }


def _version_of(key: str) -> int | None:
    match = re.search(r":v(\d+):", key)
    return int(match[1]) if match else None


# Small helpers


async def _get(session: AsyncSession, appointment_id: int, *, for_update: bool = False) -> Appointment:
    appointment = await store.get_appointment(session, appointment_id, for_update=for_update)
    if appointment is None:
        raise AdminError(f"no appointment with id {appointment_id} (see: stegvis appointment list)")
    return appointment


def _now(now: datetime | None) -> datetime:
    if now is None:
        return utcnow()
    _require_aware(now, "now")
    return now


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        # A programming error (the CLI always parses to aware times), so not an AdminError.
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


def _check_future(starts_at: datetime, now: datetime, tz: ZoneInfo, option: str) -> None:
    if starts_at <= now:
        raise AdminError(f"{option}: {_shown(starts_at, tz)} is in the past")


def _option_text(value: str | None, option: str, *, required: bool) -> str | None:
    try:
        return clean_text(value, required=required)
    except ValueError as error:
        raise AdminError(f"{option} {error}") from None  # same wording as "--name must not be empty"


def _value(status: Any) -> str:
    return str(status.value if hasattr(status, "value") else status)


def _utc_iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat()


def _local_iso(value: datetime, tz: ZoneInfo) -> str:
    return value.astimezone(tz).isoformat(timespec="seconds")


def _shown(value: datetime, tz: ZoneInfo) -> str:
    return f"{value.astimezone(tz):%Y-%m-%d %H:%M}"
