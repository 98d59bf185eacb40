"""An activity, its sessions, an enrolment and a cancellation as a caseworker sees them (and the CLI's JSON)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.features.activities.schedule import WEEKDAYS, Session


def local_iso(value: datetime, tz: ZoneInfo) -> str:
    return value.astimezone(tz).isoformat(timespec="seconds")


def shown(value: datetime, tz: ZoneInfo) -> str:
    """``tue 2027-02-09 10:00`` in local time."""
    local = value.astimezone(tz)
    return f"{WEEKDAYS[local.weekday()]} {local:%Y-%m-%d %H:%M}"


@dataclass(frozen=True)
class ActivityView:
    id: int
    name: str
    organisation: str
    place: str
    weekly: tuple[str, ...]  # "tue 10:00"
    duration_minutes: int
    starts_on: date
    ends_on: date | None
    on_holidays: bool
    enrolled: tuple[int, ...]  # participants enrolled and not left (some perhaps from a later day)

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "organisation": self.organisation,
            "place": self.place,
            "weekly": list(self.weekly),
            "duration_minutes": self.duration_minutes,
            "starts": self.starts_on.isoformat(),
            "ends": self.ends_on.isoformat() if self.ends_on else None,
            "on_holidays": self.on_holidays,
            "enrolled": list(self.enrolled),
        }


@dataclass(frozen=True)
class ActivityListing:
    activities: list[ActivityView]

    def __repr__(self) -> str:  # asyncio.run may put a result's repr in a message: keep it short
        return f"ActivityListing({len(self.activities)} activities)"

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        return {"activities": [a.as_json(tz) for a in self.activities]}


def session_json(session: Session, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "date": session.day.isoformat(),
        "starts_at": local_iso(session.starts_at, tz),
        "ends_at": local_iso(session.ends_at, tz),
        "status": "cancelled" if session.cancelled else "planned",
        "reason": session.reason,
    }


@dataclass(frozen=True)
class SessionListing:
    activity: ActivityView
    first: date
    last: date
    sessions: tuple[Session, ...]

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        return {
            "activity_id": self.activity.id,
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            "sessions": [session_json(s, tz) for s in self.sessions],
        }


@dataclass(frozen=True)
class EnrolmentView:
    activity_id: int
    activity: str
    participant_id: int
    participant_status: str
    from_date: date
    left_date: date | None

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        return {
            "activity_id": self.activity_id,
            "participant_id": self.participant_id,
            "participant_status": self.participant_status,
            "from": self.from_date.isoformat(),
            "left": self.left_date.isoformat() if self.left_date else None,
        }


@dataclass(frozen=True)
class Notice:
    participant_id: int
    due_at: datetime | None  # None: not sent (see why)
    why_not: str | None = None  # "not joined", "stopped", "too late" …


@dataclass(frozen=True)
class CancellationView:
    activity: ActivityView
    day: date
    reason: str | None
    sessions: tuple[Session, ...]
    notices: tuple[Notice, ...]

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        return {
            "activity_id": self.activity.id,
            "date": self.day.isoformat(),
            "reason": self.reason,
            "sessions": [session_json(s, tz) for s in self.sessions],
            "notices": [{"participant_id": n.participant_id, "due_at": local_iso(n.due_at, tz)} for n in self.notices if n.due_at is not None],
            "not_told": [{"participant_id": n.participant_id, "why": n.why_not} for n in self.notices if n.due_at is None],
        }
