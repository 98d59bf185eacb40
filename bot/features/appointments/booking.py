"""Booking appointments and planning their reminders, as typed services over the caller's session.

Each service takes a session, an actor and typed arguments, works in the caller's transaction
(the caller commits: the CLI adapter, a test, the demo) and returns `AppointmentView`s. A booking
writes the appointment, one outbox row per reminder and an event together, so a crash never
leaves an appointment without its reminders. Times are stored in UTC and shown in
``settings.tz``. Refusals are `bot.services.ServiceError`s in a caseworker's words, with the
input they concern in ``field`` (``starts_at``, ``place`` …).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.features.appointments.messages import CANCELLED_NOTICE, MOVED_NOTICE, REMINDER, SUBJECT
from bot.features.appointments.timing import LeadTime, plan_reminders
from bot.features.appointments.views import AppointmentView, appointment_view, lead_times_of, shown, utc_iso
from bot.outbox.quiet_hours import next_allowed_moment
from bot.services import Actor, Conflict, InvalidInput, NotFound, invalid
from bot.validation import check_not_too_far, clean_text
from storage import appointments as store
from storage import access_log, outbox
from storage import repositories as repo
from storage.clock import require_aware
from storage.models import Appointment, AppointmentStatus, OutboxMessage, OutboxStatus, Participant, ParticipantStatus
from storage.outbox import Planned, Recipient, Subject

# Pending notices of an older version are as stale as its reminders once the appointment changes.
_WITHDRAWN = (REMINDER, MOVED_NOTICE)
_CHANGED = "appointment {} was changed by someone else at the same moment; look again with: stegvis appointment list"


class Booking(Protocol):
    """What planning needs of an appointment: a stored one, or one an import has just inserted."""

    id: int
    participant_id: int
    version: int
    starts_at: datetime
    lead_times: str | None


def subject_of(appointment: Booking) -> Subject:
    return Subject(SUBJECT, appointment.id, appointment.version)


def reminder_plan(appointment: Booking, settings: Settings, now: datetime) -> list[Planned]:
    """The current version's reminders as outbox rows to plan (idempotent: the key names the version and lead)."""
    planned = plan_reminders(appointment.starts_at, lead_times_of(appointment, settings.lead_times), now=now, tz=settings.tz, quiet=settings.quiet)
    return [
        Planned(
            Recipient.participant(appointment.participant_id),
            REMINDER,
            reminder.due_at,
            subject=subject_of(appointment),
            slot=str(reminder.lead),
            payload={"lead": str(reminder.lead), "immediate": reminder.immediate},
        )
        for reminder in planned
    ]


async def _notify(session: AsyncSession, settings: Settings, appointment: Appointment, composer: str, now: datetime, payload: dict[str, Any] | None = None) -> datetime | None:
    """Plan a "moved"/"cancelled" notice at the first moment outside quiet hours.

    None when that moment is not before the appointment: a notice after the fact helps no one,
    and the caseworker is told to reach the participant another way.
    """
    due = next_allowed_moment(now, settings.quiet, settings.tz)
    if due >= appointment.starts_at:
        return None
    notice = Planned(Recipient.participant(appointment.participant_id), composer, due, subject=subject_of(appointment), payload=payload or {})
    await outbox.enqueue(session, notice, now=now)
    return due


def checked_place(place: str) -> str:
    try:
        return clean_text(place, required=True)  # type: ignore[return-value]
    except ValueError as error:
        raise invalid("place", error) from None


def checked_title(title: str | None) -> str | None:
    try:
        return clean_text(title, required=True) if title is not None else None
    except ValueError as error:
        raise invalid("title", error) from None


def check_start(starts_at: datetime, now: datetime, settings: Settings) -> None:
    require_aware(starts_at=starts_at)
    if starts_at <= now:
        raise InvalidInput(f"{shown(starts_at, settings.tz)} is in the past", field="starts_at")
    try:
        check_not_too_far(starts_at, now, tz=settings.tz)
    except ValueError as error:
        raise invalid("starts_at", error) from None


def stored_leads(lead_times: Sequence[LeadTime] | None) -> str | None:
    return ",".join(str(lead) for lead in sorted(set(lead_times), reverse=True)) if lead_times else None


# Booking, moving, cancelling


async def book(
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    *,
    participant_id: int,
    starts_at: datetime,
    place: str,
    title: str | None = None,
    lead_times: Sequence[LeadTime] | None = None,
    now: datetime,
) -> AppointmentView:
    """Book an appointment and plan its reminders.

    ``lead_times`` None means the global setting (and is stored as None, so a later change of
    STEGVIS_REMINDER_LEAD_TIMES applies when the appointment is moved).
    """
    place_text, title_text = checked_place(place), checked_title(title)
    if lead_times is not None and not lead_times:
        raise InvalidInput("no lead time given; use e.g. 3d, 1d or 2h", field="remind")
    check_start(starts_at, now, settings)
    if await repo.get_participant(session, participant_id) is None:
        raise NotFound(f"no participant with id {participant_id} (see: stegvis participant list)", field="participant")
    existing = (await store.booked_at(session, [participant_id])).get((participant_id, starts_at))
    if existing is not None:
        raise Conflict(f"participant {participant_id} already has appointment {existing} at {shown(starts_at, settings.tz)}", field="starts_at")
    appointment = await store.add_appointment(session, participant_id, starts_at, place_text, title_text, stored_leads(lead_times), now=now)
    await outbox.enqueue_many(session, reminder_plan(appointment, settings, now), now=now)
    await repo.append_event(session, "appointment_booked", participant_id, booked_event(appointment), occurred_at=now)
    return (await views(session, settings, [appointment]))[0]


def booked_event(appointment: Booking) -> dict[str, Any]:
    return {"appointment_id": appointment.id, "starts_at": utc_iso(appointment.starts_at), "version": appointment.version}


async def move(session: AsyncSession, actor: Actor, settings: Settings, *, appointment_id: int, starts_at: datetime, now: datetime) -> AppointmentView:
    """Move to a new time: version + 1, old reminders withdrawn, fresh ones, and a "moved" notice."""
    require_aware(starts_at=starts_at)
    tz = settings.tz
    appointment = await _get(session, appointment_id, for_update=True)
    if appointment.status == AppointmentStatus.CANCELLED:
        raise Conflict(f"appointment {appointment_id} is cancelled and cannot be moved; book a new one with: stegvis appointment add")
    if appointment.starts_at <= now:
        raise Conflict(f"appointment {appointment_id} was at {shown(appointment.starts_at, tz)} and can no longer be moved; book a new one with: stegvis appointment add")
    check_start(starts_at, now, settings)
    if starts_at == appointment.starts_at:
        raise Conflict(f"appointment {appointment_id} is already at {shown(starts_at, tz)}", field="starts_at")
    existing = (await store.booked_at(session, [appointment.participant_id])).get((appointment.participant_id, starts_at))
    if existing is not None:
        raise Conflict(f"participant {appointment.participant_id} already has appointment {existing} at {shown(starts_at, tz)}", field="starts_at")

    previous = appointment.starts_at
    if not await store.reschedule(session, appointment, starts_at, now):
        raise Conflict(_CHANGED.format(appointment_id))
    # If the participant was never told about the last move (its notice is still pending),
    # the new notice should name the time they actually know.
    unsent_notice = await session.scalar(
        select(OutboxMessage)
        .where(
            OutboxMessage.subject_kind == SUBJECT,
            OutboxMessage.subject_id == appointment.id,
            OutboxMessage.composer == MOVED_NOTICE,
            OutboxMessage.status == OutboxStatus.PENDING,
        )
        .order_by(OutboxMessage.id)
        .limit(1)
    )
    known = unsent_notice.payload.get("previous_starts_at") if unsent_notice is not None else None
    await outbox.withdraw_pending(session, Subject(SUBJECT, appointment.id), _WITHDRAWN, "withdrawn: the appointment moved or was cancelled")
    await outbox.enqueue_many(session, reminder_plan(appointment, settings, now), now=now)
    await _notify(session, settings, appointment, MOVED_NOTICE, now, {"previous_starts_at": known or utc_iso(previous)})
    await repo.append_event(
        session,
        "appointment_moved",
        appointment.participant_id,
        {**booked_event(appointment), "previous_starts_at": utc_iso(previous)},
        occurred_at=now,
    )
    return (await views(session, settings, [appointment]))[0]


async def cancel(session: AsyncSession, actor: Actor, settings: Settings, *, appointment_id: int, now: datetime) -> AppointmentView:
    """Cancel: pending reminders withdrawn, a "cancelled" notice if it can still arrive in time."""
    appointment = await _get(session, appointment_id, for_update=True)
    if appointment.status == AppointmentStatus.CANCELLED or not await store.mark_cancelled(session, appointment, now):
        raise Conflict(f"appointment {appointment_id} is already cancelled")
    await outbox.withdraw_pending(session, Subject(SUBJECT, appointment.id), _WITHDRAWN, "withdrawn: the appointment moved or was cancelled")
    if appointment.starts_at > now:
        await _notify(session, settings, appointment, CANCELLED_NOTICE, now)
    await repo.append_event(session, "appointment_cancelled", appointment.participant_id, booked_event(appointment), occurred_at=now)
    return (await views(session, settings, [appointment]))[0]


async def record_attendance(session: AsyncSession, actor: Actor, settings: Settings, *, appointment_id: int, attended: bool, now: datetime) -> AppointmentView:
    """What happened at the appointment; may be corrected later (each answer is an event)."""
    appointment = await _get(session, appointment_id, for_update=True)
    if appointment.status == AppointmentStatus.CANCELLED:
        raise Conflict(f"appointment {appointment_id} was cancelled; there is no attendance to record")
    if appointment.starts_at > now:
        raise Conflict(f"appointment {appointment_id} starts at {shown(appointment.starts_at, settings.tz)}; record attendance once it has started")
    appointment.attended = attended
    appointment.updated_at = now
    await repo.append_event(session, "appointment_attended", appointment.participant_id, {"appointment_id": appointment.id, "attended": attended}, occurred_at=now)
    return (await views(session, settings, [appointment]))[0]


async def record_unanswered(session: AsyncSession, now: datetime) -> list[int]:
    """Record "unanswered" for booked appointments that started with no answer; their ids.

    Idempotent and safe to run from several processes at once (see store.mark_unanswered).
    """
    changed = await store.mark_unanswered(session, now)
    for appointment in changed:
        await repo.append_event(session, "appointment_unanswered", appointment.participant_id, booked_event(appointment), occurred_at=now)
    return [appointment.id for appointment in changed]


async def list_appointments(session: AsyncSession, actor: Actor, settings: Settings, *, participant_id: int | None = None, now: datetime) -> list[AppointmentView]:
    """Every appointment (or one participant's), each with its reminders, notices and latest
    answer; the listing is recorded in the access log."""
    if participant_id is not None and await repo.get_participant(session, participant_id) is None:
        raise NotFound(f"no participant with id {participant_id} (see: stegvis participant list)", field="participant")
    found = await views(session, settings, await store.list_appointments(session, participant_id))
    await access_log.record(session, actor, access_log.APPOINTMENT_LIST, [view.participant_id for view in found], now=now)
    return found


async def views(session: AsyncSession, settings: Settings, appointments: Sequence[Appointment]) -> list[AppointmentView]:
    messages = await outbox.messages_about(session, SUBJECT, [a.id for a in appointments])
    ids = sorted({a.participant_id for a in appointments})
    statuses = dict((await session.execute(select(Participant.id, Participant.status).where(Participant.id.in_(ids)))).all()) if ids else {}
    return [appointment_view(a, ParticipantStatus(statuses.get(a.participant_id, "invited")).value, messages.get(a.id, []), settings.lead_times) for a in appointments]


async def _get(session: AsyncSession, appointment_id: int, *, for_update: bool = False) -> Appointment:
    appointment = await store.get_appointment(session, appointment_id, for_update=for_update)
    if appointment is None:
        raise NotFound(f"no appointment with id {appointment_id} (see: stegvis appointment list)")
    return appointment
