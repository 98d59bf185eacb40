"""When messages about an appointment must not go out any more: the outbox's rule for its subject."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.appointments.messages import CANCELLED_NOTICE, SUBJECT
from storage import appointments as store
from storage.models import Appointment, AppointmentStatus, OutboxMessage


class AppointmentSubjects:
    """A cancellation notice goes out for a cancelled appointment; every other message only while
    the appointment is booked, at the version it was planned for, and not yet begun."""

    kind = SUBJECT
    too_late = "withdrawn: quiet hours last until the appointment"

    async def load(self, session: AsyncSession, ids: Collection[int]) -> dict[int, Appointment]:
        if not ids:
            return {}
        return {a.id: a for a in await session.scalars(select(Appointment).where(Appointment.id.in_(sorted(ids))))}

    def stale(self, row: OutboxMessage, subject: Any | None, now: datetime) -> str | None:
        appointment = subject
        if appointment is None:
            return "withdrawn: the appointment no longer exists"
        if appointment.starts_at <= now:
            return "withdrawn: the appointment has begun"
        if row.composer == CANCELLED_NOTICE:
            return None if appointment.status == AppointmentStatus.CANCELLED else "withdrawn: the appointment is booked"
        if appointment.status != AppointmentStatus.BOOKED:
            return "withdrawn: the appointment was cancelled"
        if row.subject_version != appointment.version:
            return "withdrawn: the appointment moved"
        return None

    def deadline(self, subject: Any) -> datetime | None:
        return subject.starts_at

    async def withdraw_stale(self, session: AsyncSession, now: datetime) -> int:
        return await store.withdraw_stale(session, now, cancellation_notice=CANCELLED_NOTICE)
