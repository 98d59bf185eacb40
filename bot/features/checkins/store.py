"""The check-in's reads and writes: SQLAlchemy Core statements for the hot path's unit of work
(`storage.writer.Changes.statements`), and the reads the ref rule, the sender and the jobs share.

The CheckIn row repeats the latest answers so a report reads one row per check-in (the answers
themselves are the ``checkin_*`` events): ``practice`` one of `AMOUNTS`, ``places`` a list of
`PLACES`, ``confidence`` 1 … 5, ``voice_notes`` a count, ``answered_at`` the first answer of any
kind (a voice note included), ``unanswered_at`` when it was given up on.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Executable, Integer, exists, func, insert, literal, select, update

from storage.models import CheckIn, UTCDateTime
from storage.writer import Reader

AMOUNTS = ("a_lot", "a_little", "not_this_week")
PLACES = ("sfi", "language_cafe", "work", "home", "friends")
LEVELS = range(1, 6)


@dataclass(frozen=True)
class Sent:
    """A check-in as the rules need it."""

    participant_id: int
    week: date
    sent_at: datetime
    nudged_at: datetime | None
    answered_at: datetime | None
    unanswered_at: datetime | None
    confidence: int | None

    @property
    def finished(self) -> bool:
        return self.confidence is not None  # the last question is answered


def sent(participant_id: int, week: date, now: datetime) -> Executable:
    """The check-in went out: its row, once per participant and week (a second send adds nothing).

    INSERT … SELECT … WHERE NOT EXISTS reads the same on SQLite and PostgreSQL; the unique
    (participant, week) stays the last word."""
    values = select(
        literal(participant_id, Integer), literal(week, Date), literal(now, UTCDateTime), literal(0, Integer)
    ).where(~exists().where(CheckIn.participant_id == participant_id, CheckIn.week == week))
    return insert(CheckIn).from_select(["participant_id", "week", "sent_at", "voice_notes"], values)


def _open(participant_id: int, week: date) -> Any:
    return update(CheckIn).where(CheckIn.participant_id == participant_id, CheckIn.week == week, CheckIn.unanswered_at.is_(None))


def answered(participant_id: int, week: date, now: datetime, **values: Any) -> Executable:
    """An answer: its column, and the first answer's time."""
    return _open(participant_id, week).values(**values, answered_at=func.coalesce(CheckIn.answered_at, literal(now, UTCDateTime)))


def voice_note(participant_id: int, week: date, now: datetime) -> Executable:
    return _open(participant_id, week).values(voice_notes=CheckIn.voice_notes + 1, answered_at=func.coalesce(CheckIn.answered_at, literal(now, UTCDateTime)))


def nudged(participant_id: int, week: date, now: datetime) -> Executable:
    return update(CheckIn).where(CheckIn.participant_id == participant_id, CheckIn.week == week, CheckIn.nudged_at.is_(None)).values(nudged_at=now)


def _columns() -> Any:
    return select(CheckIn.participant_id, CheckIn.week, CheckIn.sent_at, CheckIn.nudged_at, CheckIn.answered_at, CheckIn.unanswered_at, CheckIn.confidence)


async def of_participants(reader: Reader, ids: Collection[int]) -> dict[int, list[Sent]]:
    """Each participant's check-ins, oldest first."""
    if not ids:
        return {}
    rows = await reader.fetch(_columns().where(CheckIn.participant_id.in_(sorted(ids))).order_by(CheckIn.week))
    found: dict[int, list[Sent]] = {pid: [] for pid in ids}
    for row in rows:
        found[row.participant_id].append(Sent(*row))
    return found


async def waiting(reader: Reader) -> Sequence[Sent]:
    """Check-ins nobody has answered yet and not given up on (for nudges and unanswered)."""
    rows = await reader.fetch(_columns().where(CheckIn.answered_at.is_(None), CheckIn.unanswered_at.is_(None)))
    return [Sent(*row) for row in rows]


def closed_reason(checkins: Sequence[Sent], week: date) -> str | None:
    """Why the check-in of `week` no longer takes answers (a key of `messages.CLOSED`), or None."""
    this = next((c for c in checkins if c.week == week), None)
    if this is None:
        return "unknown"
    if this.unanswered_at is not None or any(c.week > week for c in checkins):
        return "old"
    if this.finished:
        return "answered"
    return None
