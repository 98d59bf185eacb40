"""An appointment as a caseworker sees it: its time, its answer, and what became of each message about it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from bot.features.appointments.messages import REMINDER
from bot.features.appointments.timing import LeadTime, parse_lead_times
from storage.models import Appointment


@dataclass(frozen=True)
class MessageView:
    kind: str  # "reminder", "moved" or "cancelled"
    due_at: datetime
    status: str
    version: int | None
    lead: str | None = None  # a reminder's lead time
    immediate: bool = False  # a reminder sent at once because the booking came late


@dataclass(frozen=True)
class AppointmentView:
    id: int
    participant_id: int
    participant_status: str  # whether the messages can reach them: only "active" participants get any
    starts_at: datetime
    place: str
    title: str | None
    version: int
    status: str
    lead_times: tuple[str, ...]
    answer: str | None
    answered_at: datetime | None
    attended: bool | None
    messages: tuple[MessageView, ...]

    def current(self, kind: str | None = None) -> list[MessageView]:
        """The messages of the current booking (optionally of one kind)."""
        return [m for m in self.messages if m.version == self.version and (kind is None or m.kind == kind)]

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        """As the CLI's JSON shows it: local times with their offset."""
        return {
            "id": self.id,
            "participant_id": self.participant_id,
            "participant_status": self.participant_status,
            "starts_at": local_iso(self.starts_at, tz),
            "place": self.place,
            "title": self.title,
            "version": self.version,
            "status": self.status,
            "lead_times": list(self.lead_times),
            "answer": self.answer,
            "answered_at": local_iso(self.answered_at, tz) if self.answered_at else None,
            "attended": self.attended,
            "reminders": [
                {"lead": m.lead, "due_at": local_iso(m.due_at, tz), "status": m.status, "version": m.version, "immediate": m.immediate}
                for m in self.messages
                if m.kind == "reminder"
            ],
            "notices": [{"kind": m.kind, "due_at": local_iso(m.due_at, tz), "status": m.status, "version": m.version} for m in self.messages if m.kind != "reminder"],
        }


def lead_times_of(appointment: Any, default: tuple[LeadTime, ...]) -> tuple[LeadTime, ...]:
    """The appointment's own lead times, or the global STEGVIS_REMINDER_LEAD_TIMES."""
    return parse_lead_times(appointment.lead_times) if appointment.lead_times else default


def appointment_view(appointment: Appointment, participant_status: str, messages: Sequence[Any], default_leads: tuple[LeadTime, ...]) -> AppointmentView:
    return AppointmentView(
        id=appointment.id,
        participant_id=appointment.participant_id,
        participant_status=participant_status,
        starts_at=appointment.starts_at,
        place=appointment.place,
        title=appointment.title,
        version=appointment.version,
        status=_value(appointment.status),
        lead_times=tuple(str(lead) for lead in lead_times_of(appointment, default_leads)),
        answer=appointment.answer,
        answered_at=appointment.answered_at,
        attended=appointment.attended,
        messages=tuple(_message(row) for row in messages),
    )


def _message(row: Any) -> MessageView:
    """A stored outbox row (an object or a Core row with its columns) as the caseworker sees it."""
    if row.composer == REMINDER:
        payload = row.payload or {}
        return MessageView("reminder", row.due_at, _value(row.status), row.subject_version, payload.get("lead"), bool(payload.get("immediate")))
    return MessageView(row.composer.rsplit(".", 1)[-1], row.due_at, _value(row.status), row.subject_version)


def _value(status: Any) -> str:
    return str(status.value if hasattr(status, "value") else status)


def utc_iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat()


def local_iso(value: datetime, tz: ZoneInfo) -> str:
    return value.astimezone(tz).isoformat(timespec="seconds")


def shown(value: datetime, tz: ZoneInfo) -> str:
    return f"{value.astimezone(tz):%Y-%m-%d %H:%M}"
