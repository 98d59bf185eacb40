"""When a notice about a cancelled session must not go out any more: the outbox's rule for ``activity_session``."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.activities import question
from bot.features.activities.messages import SUBJECT, CancelledDay
from bot.features.activities.schedule import Plan, WeeklyRule, on_day
from storage import activities as store
from storage import outbox
from storage.models import Activity, OutboxMessage
from storage.writer import SessionReader


def plan_of(activity: Activity) -> Plan:
    rules = tuple(WeeklyRule(rule.weekday, rule.local_time) for rule in activity.rules)
    return Plan(rules, timedelta(minutes=activity.duration_minutes), activity.starts_on, activity.ends_on, activity.on_holidays)


class SessionSubjects:
    """A cancellation notice goes out only before the session would have begun, and only to
    someone still enrolled that day."""

    kind = SUBJECT
    too_late = "withdrawn: quiet hours last until the session"

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz

    async def load(self, session: AsyncSession, ids: Collection[int]) -> dict[int, CancelledDay]:
        cancellations = await store.get_cancellations(session, ids)
        activities = await store.get_activities(session, {c.activity_id for c in cancellations.values()})
        found = {}
        for cancelled in cancellations.values():
            activity = activities[cancelled.activity_id]
            # Cancelled sessions never come out of on_day's listing (it knows no cancellations).
            starts = [s.starts_at for s in on_day(plan_of(activity), cancelled.local_date, self.tz)]
            if not starts:
                continue  # no longer a session day (its rules changed): nothing to tell
            enrolled = frozenset(e.participant_id for e in await store.enrolled_on(session, activity.id, cancelled.local_date))
            found[cancelled.id] = CancelledDay(cancelled.id, activity.id, activity.name, activity.place, cancelled.local_date, min(starts), cancelled.reason, enrolled)
        return found

    def stale(self, row: OutboxMessage, subject: Any | None, now: datetime) -> str | None:
        cancelled = subject
        if cancelled is None:
            return "withdrawn: the session is no longer cancelled"
        if cancelled.starts_at <= now:
            return "withdrawn: the session has begun"
        if row.recipient_id not in cancelled.enrolled:
            return "withdrawn: the participant is no longer enrolled that day"
        return None

    def deadline(self, subject: Any) -> datetime | None:
        return subject.starts_at

    async def withdraw_stale(self, session: AsyncSession, now: datetime) -> int:
        return await _withdraw_stale(self, session, now)


class QuestionSubjects:
    """A "coming today?" question goes out only for a session that is held that day and has not
    begun, and only to someone enrolled that day. Its subject is the activity (``activity_day``);
    the row's version is the day's ordinal."""

    kind = question.SUBJECT
    too_late = "withdrawn: quiet hours last until the session"

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz

    async def load(self, session: AsyncSession, ids: Collection[int]) -> dict[int, question.ActivityCalendar]:
        return await question.load_calendars(SessionReader(session), ids)

    def stale(self, row: OutboxMessage, subject: Any | None, now: datetime) -> str | None:
        calendar = subject
        if calendar is None or row.subject_version is None:
            return "withdrawn: the activity no longer exists"
        day = date.fromordinal(row.subject_version)
        starts_at = calendar.starts_at(day, self.tz)
        if day in calendar.cancelled:
            return "withdrawn: the session was cancelled"
        if starts_at is None:
            return "withdrawn: no longer a session day"
        if starts_at <= now:
            return "withdrawn: the session has begun"
        if row.recipient_id is None or not calendar.enrolled(row.recipient_id, day):
            return "withdrawn: the participant is no longer enrolled that day"
        return None

    def deadline(self, subject: Any) -> datetime | None:
        return None  # the subject is the activity, the day is the row's: `stale` refuses once the session began

    async def withdraw_stale(self, session: AsyncSession, now: datetime) -> int:
        return await _withdraw_stale(self, session, now)


async def _withdraw_stale(rule: SessionSubjects | QuestionSubjects, session: AsyncSession, now: datetime) -> int:
    # A session's start follows from weekly rules in local time, which SQL cannot work out on
    # both backends: decide in Python. There are few such rows (one per participant per session day).
    rows = await outbox.pending_about(session, rule.kind)
    subjects = await rule.load(session, {row.subject_id for row in rows if row.subject_id is not None})
    reasons = {row.id: rule.stale(row, subjects.get(row.subject_id or 0), now) for row in rows}
    return await outbox.withdraw_rows(session, {row_id: reason for row_id, reason in reasons.items() if reason is not None})
