"""When a notice about a cancelled session must not go out any more: the outbox's rule for ``activity_session``."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.activities.messages import SUBJECT, CancelledDay
from bot.features.activities.schedule import Plan, WeeklyRule, on_day
from storage import activities as store
from storage import outbox
from storage.models import Activity, OutboxMessage


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
        # A session's start follows from weekly rules in local time, which SQL cannot work out on
        # both backends: decide in Python. There are few such rows (one per participant per cancellation).
        rows = await outbox.pending_about(session, SUBJECT)
        subjects = await self.load(session, {row.subject_id for row in rows if row.subject_id is not None})
        reasons = {row.id: self.stale(row, subjects.get(row.subject_id or 0), now) for row in rows}
        return await outbox.withdraw_rows(session, {row_id: reason for row_id, reason in reasons.items() if reason is not None})
