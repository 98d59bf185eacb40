"""The check-in's business operations for caseworkers: when a participant's or an activity's
check-in comes, and who was asked, answered or not in a week. Typed, never committing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.features.checkins import weeks
from bot.features.checkins.messages import SUBJECT, WEEKLY
from bot.features.checkins.planning import moments
from bot.services import Actor, NotFound
from storage import access_log, outbox
from storage.models import Activity, CheckIn, Enrolment, Participant
from storage.outbox import Subject


def _local(value: datetime | None, tz: ZoneInfo) -> str | None:
    return value.astimezone(tz).isoformat(timespec="minutes") if value is not None else None


@dataclass(frozen=True)
class ScheduleView:
    kind: str  # "activity" | "participant"
    id: int
    at: str | None  # "thu 10:00", or None: the default applies
    default: str  # STEGVIS_CHECKIN_TIME
    replanned: int  # this week's check-ins not yet sent, planned again at the new time

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        return {self.kind: self.id, "at": self.at, "default": self.default, "replanned": self.replanned}


async def schedule(
    session: AsyncSession, actor: Actor, settings: Settings, *, activity_id: int | None = None, participant_id: int | None = None, moment: weeks.Moment | None, now: datetime
) -> ScheduleView:
    """Set (or with None clear) when the check-in comes for one participant or an activity's participants."""
    if (activity_id is None) == (participant_id is None):
        raise ValueError("give exactly one of activity_id and participant_id")
    weekday, at = moment if moment is not None else (None, None)
    if participant_id is not None:
        record: Participant | Activity | None = await session.get(Participant, participant_id)
        if record is None:
            raise NotFound(f"no participant {participant_id}", field="participant")
        affected = {participant_id}
    else:
        record = await session.get(Activity, activity_id)
        if record is None:
            raise NotFound(f"no activity {activity_id}", field="activity")
        affected = set(await session.scalars(select(Enrolment.participant_id).where(Enrolment.activity_id == activity_id)))
    record.checkin_weekday, record.checkin_time, record.updated_at = weekday, at, now
    await session.flush()
    # A row planned at the old time is withdrawn; the job plans the new one (its slot differs).
    replanned = 0
    for pid in sorted(affected):
        replanned += await outbox.withdraw_pending(session, Subject(SUBJECT, pid), [WEEKLY], "withdrawn: the check-in's time changed")
    kind, key = ("participant", participant_id) if participant_id is not None else ("activity", activity_id)
    assert key is not None
    return ScheduleView(kind, key, weeks.shown_moment(moment) if moment is not None else None, settings.checkin_time, replanned)


@dataclass(frozen=True)
class CheckinRow:
    participant_id: int
    name: str
    status: str  # "waiting" | "answered" | "unanswered" | "planned"
    due_or_sent: datetime | None
    nudged_at: datetime | None
    answered_at: datetime | None
    practice: str | None
    places: list[str] | None
    confidence: int | None
    voice_notes: int

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        return {
            "participant": self.participant_id, "name": self.name, "status": self.status,
            ("due" if self.status == "planned" else "sent"): _local(self.due_or_sent, tz),
            "nudged": _local(self.nudged_at, tz), "answered": _local(self.answered_at, tz),
            "practice": self.practice, "places": self.places, "confidence": self.confidence, "voice_notes": self.voice_notes,
        }


@dataclass(frozen=True)
class WeekListing:
    week: date
    rows: list[CheckinRow]

    def __repr__(self) -> str:
        return f"WeekListing({weeks.iso_week(self.week)}, {len(self.rows)} rows)"

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        return {"week": weeks.iso_week(self.week), "monday": self.week.isoformat(), "checkins": [r.as_json(tz) for r in self.rows]}


async def list_week(session: AsyncSession, actor: Actor, settings: Settings, *, week: date | None, now: datetime) -> WeekListing:
    """Who was asked in the week (answered, unanswered, or still waiting) and, for the current
    or a coming week, who will be asked and when; the listing is recorded in the access log."""
    monday = week if week is not None else weeks.week_of(now, settings.tz)
    rows = (await session.execute(select(CheckIn, Participant.name).join(Participant, Participant.id == CheckIn.participant_id).where(CheckIn.week == monday))).all()
    found = []
    for checkin, name in rows:
        status = "unanswered" if checkin.unanswered_at else "answered" if checkin.answered_at else "waiting"
        found.append(CheckinRow(checkin.participant_id, name, status, checkin.sent_at, checkin.nudged_at, checkin.answered_at, checkin.practice, checkin.places, checkin.confidence, checkin.voice_notes))
    asked = {r.participant_id for r in found}
    if monday >= weeks.week_of(now, settings.tz):
        planned = {pid: m for pid, m in (await moments(session, settings, monday)).items() if pid not in asked}
        names = dict((await session.execute(select(Participant.id, Participant.name).where(Participant.id.in_(sorted(planned))))).all()) if planned else {}
        for pid, moment in planned.items():
            found.append(CheckinRow(pid, names[pid], "planned", weeks.due_at(monday, moment, settings.tz), None, None, None, None, None, 0))
    await access_log.record(session, actor, access_log.CHECKIN_LIST, [r.participant_id for r in found], now=now, detail=f"week of {monday.isoformat()}")
    return WeekListing(monday, sorted(found, key=lambda r: r.participant_id))
