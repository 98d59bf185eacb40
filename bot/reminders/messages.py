"""What a participant is sent about an appointment: a reminder, a new time, a cancellation.

`compose` turns one outbox row into a `Sprint` of the reminder flow (``flows/definitions/
reminder.yaml``): the messages to send, and the state the conversation waits in afterwards. It is
pure (no IO, no clock): the sender records the sprint (`bot.conversation.record`) once it is sent.

Every run of the reminder flow is tied to one booking of one appointment by its *reference*,
``<appointment id>v<version>`` (e.g. ``7v2``): it is in each button's callback data and on every
event, so a press answers exactly the appointment and the time the participant was shown. A move
raises the version, so buttons under an older time no longer answer (``bot/routers/reminders.py``).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from flows.engine import Sprint
from locales import LANGUAGES, N_, SOURCE_LANGUAGE, Texts
from locales.format import format_clock, format_day
from storage.models import Appointment, AppointmentStatus, OutboxMessage, Participant

if TYPE_CHECKING:
    from bot.app import Stegvis

REMINDER_FLOW = "reminder"
# Where the flow starts for each kind of outbox message.
ENTRY = {"reminder": "ask", "moved": "moved", "cancelled": "cancelled"}

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


def closed(appointment: Appointment | None, participant: Participant, version: int, now: datetime) -> str | None:
    """Why a button of booking `version` no longer answers (a msgid), or None while it does."""
    if appointment is None or appointment.participant_id != participant.id:
        return NOT_YOURS
    if appointment.status == AppointmentStatus.CANCELLED:
        return CANCELLED
    if appointment.starts_at <= now:
        return PASSED
    if appointment.version != version:
        return MOVED
    return None


def compose(stegvis: Stegvis, participant: Participant, appointment: Appointment, message: OutboxMessage) -> Sprint:
    """The sprint for one outbox message about `appointment`, in the participant's language.

    * ``reminder``: the appointment (title, day, time, place) and three buttons: *Jag kommer* ·
      *Jag kan inte komma* · *Jag behöver en annan tid*; the state waits for the answer.
    * ``moved``: «Ditt möte har en ny tid.», then the same question about the new time.
    * ``cancelled``: a notice with the day and time; it asks nothing, so the sprint has
      ``keep_state``: whatever question was open stays open (`record` leaves the state alone).

    The answers come back as events with the appointment's id and version (see `record`).
    """
    if message.kind not in ENTRY:
        raise ValueError(f"outbox message {message.id} has kind {message.kind!r}; compose knows {', '.join(ENTRY)}")
    if appointment is None or message.appointment_id not in (None, appointment.id):
        raise ValueError(f"outbox message {message.id} is about appointment {message.appointment_id}, not the one given")
    code = participant.language if participant.language in LANGUAGES else SOURCE_LANGUAGE
    texts = stegvis.catalogs.texts(code)
    sprint = stegvis.engine.start(
        REMINDER_FLOW,
        language=code,
        variables=variables(appointment, texts, stegvis.settings.tz),
        at=ENTRY[message.kind],
        ref=reference(appointment),
    )
    if message.kind == "cancelled":
        # Only a notice: no flow was answered, and an open question about something else stays open.
        sprint = replace(sprint, events=(), keep_state=True)
    return sprint
