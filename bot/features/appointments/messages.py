"""What a participant is sent about an appointment: a reminder, a new time, a cancellation, and their answers.

Every run of the reminder flow (``flows/definitions/reminder.yaml``) is tied to one booking of
one appointment by its *reference*, ``<appointment id>v<version>`` (e.g. ``7v2``): it is in each
button's callback data and on every event, so a press answers exactly the appointment and the
time the participant was shown. A move raises the version, so buttons under an older time no
longer answer. `AppointmentRefs` is how the conversation core checks such a press (cancelled,
passed, moved) and fills the flow's texts; the three composers write the outbox's messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.outbox.composers import Addressee
from flows.engine import Engine, Run, Sprint
from locales import N_, Catalogs, Texts
from locales.format import format_clock, format_day
from storage.models import Appointment, AppointmentStatus, OutboxMessage
from storage.writer import ParticipantRow, Reader

REMINDER_FLOW = "reminder"
SUBJECT = "appointment"
REMINDER, MOVED_NOTICE, CANCELLED_NOTICE = "appointment.reminder", "appointment.moved", "appointment.cancelled"

DEFAULT_TITLE = N_("Möte med din handläggare")  # an appointment booked without --title

# Why a button about an appointment no longer answers anything (a short pop-up).
CANCELLED = N_("Det här mötet är inställt.")
PASSED = N_("Det här mötet har redan varit.")
MOVED = N_("Det här mötet har fått en ny tid.")
NOT_YOURS = "Den knappen fungerar inte."  # the engine's text for a forged button: existence is not told

_REFERENCE = re.compile(r"([1-9][0-9]*)v([1-9][0-9]*)")


def reference(appointment: Appointment) -> str:
    """The ref of the appointment's current booking, e.g. ``7v2``."""
    return f"{appointment.id}v{appointment.version}"


def parse_reference(ref: str | None) -> tuple[int, int] | None:
    """(appointment id, version) from a ref, or None when it is not one of ours."""
    match = _REFERENCE.fullmatch(ref or "")
    return (int(match[1]), int(match[2])) if match else None


def variables(appointment: Appointment, texts: Texts, tz: ZoneInfo) -> dict[str, str]:
    """The reminder flow's {placeholders}, written the way the participant's language writes them."""
    language = texts.language
    return {
        "title": appointment.title or texts.gettext(DEFAULT_TITLE),
        "day": format_day(appointment.starts_at, language, tz),
        "time": format_clock(appointment.starts_at, language, tz),
        "place": appointment.place,
    }


def closed(appointment: Appointment | None, participant_id: int, version: int, now: datetime) -> str | None:
    """Why a button of booking `version` no longer answers (a msgid), or None while it does."""
    if appointment is None or appointment.participant_id != participant_id:
        return NOT_YOURS
    if appointment.status == AppointmentStatus.CANCELLED:
        return CANCELLED
    if appointment.starts_at <= now:
        return PASSED
    if appointment.version != version:
        return MOVED
    return None


_SHOWN = (Appointment.id, Appointment.participant_id, Appointment.starts_at, Appointment.place, Appointment.title, Appointment.version, Appointment.status)


async def _appointments(reader: Reader, ids: Collection[int]) -> dict[int, Appointment]:
    """What a press needs to know about these appointments (read through the hot path's store)."""
    if not ids:
        return {}
    rows = await reader.fetch(select(*_SHOWN).where(Appointment.id.in_(sorted(ids))))
    return {row.id: Appointment(**row._mapping) for row in rows}


class AppointmentRefs:
    """The conversation core's questions about reminder runs (`bot.registry.RefRule`)."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz

    async def closed(self, reader: Reader, participant: ParticipantRow, refs: Collection[str], now: datetime) -> dict[str, str]:
        bookings = {ref: parse_reference(ref) for ref in refs}
        found = await _appointments(reader, {booking[0] for booking in bookings.values() if booking is not None})
        reasons = {}
        for ref, booking in bookings.items():
            reason = NOT_YOURS if booking is None else closed(found.get(booking[0]), participant.id, booking[1], now)
            if reason is not None:
                reasons[ref] = reason
        return reasons

    async def variables(self, reader: Reader, participant: ParticipantRow, ref: str, texts: Texts) -> dict[str, Any]:
        booking = parse_reference(ref)
        appointment = (await _appointments(reader, {booking[0]})).get(booking[0]) if booking else None
        return variables(appointment, texts, self.tz) if appointment is not None else {}

    def same_thing(self, ref: str) -> Callable[[Run], bool]:
        booking = parse_reference(ref)

        def about(run: Run) -> bool:
            other = parse_reference(run.ref)
            return booking is not None and other is not None and other[0] == booking[0]

        return about

    def event_payload(self, ref: str) -> dict[str, Any]:
        booking = parse_reference(ref)
        return {"appointment_id": booking[0], "version": booking[1]} if booking else {"ref": ref}


@dataclass(frozen=True)
class AppointmentMessage:
    """One of the three messages about an appointment (`bot.outbox.composers.Composer`).

    * ``appointment.reminder``: the appointment (title, day, time, place) and three buttons:
      *Jag kommer* · *Jag kan inte komma* · *Jag behöver en annan tid*; the state waits for the answer.
    * ``appointment.moved``: «Ditt möte har en ny tid.», then the same question about the new time.
    * ``appointment.cancelled``: a notice with the day and time; it asks nothing, so the sprint
      has ``keep_state``: whatever question was open stays open.
    """

    kind: str
    entry: str  # where the reminder flow starts for it
    engine: Engine
    catalogs: Catalogs
    tz: ZoneInfo

    def compose(self, addressee: Addressee, subject: Any, row: OutboxMessage) -> Sprint:
        appointment = subject
        if not isinstance(appointment, Appointment) or row.subject_id != appointment.id:
            raise ValueError(f"outbox message {row.id} is about appointment {row.subject_id}, not the one given")
        code = addressee.language_code
        texts = self.catalogs.texts(code)
        sprint = self.engine.start(REMINDER_FLOW, language=code, variables=variables(appointment, texts, self.tz), at=self.entry, ref=reference(appointment))
        if self.kind == CANCELLED_NOTICE:
            # Only a notice: no flow was answered, and an open question about something else stays open.
            sprint = replace(sprint, events=(), keep_state=True)
        return sprint

    def sent_event(self, row: OutboxMessage, telegram_message_id: int | None) -> dict[str, Any] | None:
        payload: dict[str, Any] = {"outbox_id": row.id, "appointment_id": row.subject_id, "version": row.subject_version}
        if self.kind == REMINDER:
            payload["lead"] = row.slot
        else:
            payload["kind"] = self.kind.removeprefix(f"{SUBJECT}.")
        payload["telegram_message_id"] = telegram_message_id
        return {"type": "reminder_sent" if self.kind == REMINDER else "notice_sent", "participant_id": row.recipient_id, "payload": payload}


def composers(engine: Engine, catalogs: Catalogs, tz: ZoneInfo) -> list[AppointmentMessage]:
    return [
        AppointmentMessage(REMINDER, "ask", engine, catalogs, tz),
        AppointmentMessage(MOVED_NOTICE, "moved", engine, catalogs, tz),
        AppointmentMessage(CANCELLED_NOTICE, "cancelled", engine, catalogs, tz),
    ]
