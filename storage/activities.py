"""Reading and writing group activities, their weekly rules, enrolments and cancelled sessions.

Every function takes the caller's session and never commits. The rules (who may enrol, which
dates are sessions) live in ``bot/features/activities/``; this module only stores and finds.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime, time

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Activity, ActivityRule, CancelledSession, Enrolment


async def add_activity(
    session: AsyncSession,
    *,
    name: str,
    organisation: str,
    place: str,
    weekly: Sequence[tuple[int, time]],
    duration_minutes: int,
    starts_on: date,
    ends_on: date | None,
    on_holidays: bool,
    now: datetime,
) -> Activity:
    """Store an activity with its weekly rules ((weekday, local time) pairs); flushed, so its id is known."""
    activity = Activity(
        name=name, organisation=organisation, place=place, duration_minutes=duration_minutes,
        starts_on=starts_on, ends_on=ends_on, on_holidays=on_holidays, created_at=now, updated_at=now,
    )
    activity.rules = [ActivityRule(weekday=weekday, local_time=at) for weekday, at in weekly]
    session.add(activity)
    await session.flush()
    return activity


async def get_activity(session: AsyncSession, activity_id: int) -> Activity | None:
    return await session.scalar(select(Activity).where(Activity.id == activity_id))


async def get_activities(session: AsyncSession, ids: Collection[int]) -> dict[int, Activity]:
    if not ids:
        return {}
    return {a.id: a for a in await session.scalars(select(Activity).where(Activity.id.in_(sorted(ids))))}


async def list_activities(session: AsyncSession) -> list[Activity]:
    return list(await session.scalars(select(Activity).order_by(Activity.id)))


async def enrolments(session: AsyncSession, activity_ids: Collection[int], participant_id: int | None = None) -> list[Enrolment]:
    """The enrolments of these activities (of one participant), oldest first."""
    if not activity_ids:
        return []
    query = select(Enrolment).where(Enrolment.activity_id.in_(sorted(activity_ids))).order_by(Enrolment.from_date, Enrolment.id)
    if participant_id is not None:
        query = query.where(Enrolment.participant_id == participant_id)
    return list(await session.scalars(query))


async def enrolled_on(session: AsyncSession, activity_id: int, day: date) -> list[Enrolment]:
    """Who takes part in the activity on ``day``: enrolled from it or before, and not left by then."""
    query = select(Enrolment).where(
        Enrolment.activity_id == activity_id,
        Enrolment.from_date <= day,
        or_(Enrolment.left_date.is_(None), Enrolment.left_date > day),
    )
    return list(await session.scalars(query.order_by(Enrolment.participant_id, Enrolment.id)))


async def add_enrolment(session: AsyncSession, activity_id: int, participant_id: int, from_date: date, *, now: datetime) -> Enrolment:
    enrolment = Enrolment(activity_id=activity_id, participant_id=participant_id, from_date=from_date, left_date=None, created_at=now, updated_at=now)
    session.add(enrolment)
    await session.flush()
    return enrolment


async def cancelled_between(session: AsyncSession, activity_id: int, first: date, last: date) -> dict[date, CancelledSession]:
    rows = await session.scalars(
        select(CancelledSession).where(CancelledSession.activity_id == activity_id, CancelledSession.local_date >= first, CancelledSession.local_date <= last)
    )
    return {row.local_date: row for row in rows}


async def get_cancellations(session: AsyncSession, ids: Collection[int]) -> dict[int, CancelledSession]:
    if not ids:
        return {}
    return {row.id: row for row in await session.scalars(select(CancelledSession).where(CancelledSession.id.in_(sorted(ids))))}


async def add_cancellation(session: AsyncSession, activity_id: int, day: date, reason: str | None, *, now: datetime) -> CancelledSession:
    cancelled = CancelledSession(activity_id=activity_id, local_date=day, reason=reason, cancelled_at=now)
    session.add(cancelled)
    await session.flush()
    return cancelled
