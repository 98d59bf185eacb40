"""Leaders and attendance as typed services: add a leader (with an invite), list them, a new invite, record a roll call.

Each takes a session, an actor, typed keyword arguments and ``now``, works in the caller's
transaction and returns a view with ``as_json``. Refusals are `bot.services.ServiceError`s in a
caseworker's words with the input they concern in ``field``. Recording attendance never touches
a participant's own reports (``activity_report`` events): both are kept when they disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.features.activities import schedule
from bot.features.activities.services import _not_a_session  # the same words as cancel-session's refusal
from bot.features.activities.subjects import plan_of
from bot.features.activities.views import shown
from bot.services import Actor, Conflict, InvalidInput, NotFound, invalid
from bot.validation import clean_text
from storage import activities as activity_store
from storage import roll_call as store
from storage.models import Leader
from storage.roll_call import Mark
from storage.writer import apply_changes


@dataclass(frozen=True)
class LeaderView:
    id: int
    name: str
    activities: tuple[int, ...]
    linked: bool
    language: str | None
    invite_code: str | None  # only when just made: the database keeps its hash, so it is shown once
    invite_expires_at: datetime | None

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        return {
            "leader_id": self.id, "name": self.name, "activities": list(self.activities), "linked": self.linked, "language": self.language,
            "invite_code": self.invite_code, "invite_expires_at": self.invite_expires_at.isoformat() if self.invite_expires_at else None,
        }


@dataclass(frozen=True)
class LeaderListing:
    leaders: tuple[LeaderView, ...]

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        return {"leaders": [leader.as_json(tz) for leader in self.leaders]}


@dataclass(frozen=True)
class Recorded:
    participant_id: int
    present: bool
    previous: bool | None  # what was recorded before (None: nothing)


@dataclass(frozen=True)
class AttendanceView:
    activity_id: int
    activity: str
    day: date
    starts_at: datetime
    by: str
    recorded: tuple[Recorded, ...]

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        return {
            "activity_id": self.activity_id, "activity": self.activity, "date": self.day.isoformat(), "by": self.by,
            "recorded": [{"participant_id": r.participant_id, "present": r.present, "previous": r.previous} for r in self.recorded],
        }


def _view(leader: Leader, activity_ids: Sequence[int], now: datetime, code: str | None = None) -> LeaderView:
    usable = leader.invite_used_at is None and leader.invite_code_hash is not None
    return LeaderView(
        leader.id, leader.name, tuple(activity_ids), leader.telegram_chat_id is not None, leader.language,
        code if usable else None, leader.invite_expires_at if usable else None,
    )


async def add_leader(session: AsyncSession, actor: Actor, settings: Settings, *, name: str, activity_ids: Sequence[int], now: datetime) -> LeaderView:
    """A leader of these activities, with a personal invite code valid as long as a participant's."""
    try:
        name_text = clean_text(name, required=True)
    except ValueError as error:
        raise invalid("name", error) from None
    assert name_text is not None
    if not activity_ids:
        raise InvalidInput("name at least one activity the leader leads", field="activity")
    found = await activity_store.get_activities(session, set(activity_ids))
    missing = sorted(set(activity_ids) - found.keys())
    if missing:
        raise NotFound(f"no activity with id {missing[0]} (see: stegvis activity list)", field="activity")
    leader, code = await store.add_leader(session, name=name_text, activity_ids=activity_ids, invite_ttl=timedelta(days=settings.invite_days), now=now)
    return _view(leader, sorted(set(activity_ids)), now, code)


async def list_leaders(session: AsyncSession, actor: Actor, settings: Settings, *, now: datetime) -> LeaderListing:
    leaders = await store.list_leaders(session)
    led = await store.led_activities(session, [leader.id for leader in leaders])
    return LeaderListing(tuple(_view(leader, led[leader.id], now) for leader in leaders))


async def new_invite(session: AsyncSession, actor: Actor, settings: Settings, *, leader_id: int, now: datetime) -> LeaderView:
    """A new invite code for a leader whose link expired or was lost, or who has a new phone;
    the old code stops working, and the chat linked so far stays linked until the new one is used."""
    leader = await store.get_leader(session, leader_id)
    if leader is None:
        raise NotFound(f"no leader with id {leader_id} (see: stegvis leader list)")
    code = await store.new_invite(session, leader, invite_ttl=timedelta(days=settings.invite_days), now=now)
    return _view(leader, (await store.led_activities(session, [leader.id]))[leader.id], now, code)


async def record_attendance(
    session: AsyncSession, actor: Actor, settings: Settings, *, activity_id: int, day: date, present: Sequence[int], absent: Sequence[int], now: datetime
) -> AttendanceView:
    """Record who was at the activity's session on `day` and who was not; a correction changes the row in place."""
    activity = await activity_store.get_activity(session, activity_id)
    if activity is None:
        raise NotFound(f"no activity with id {activity_id} (see: stegvis activity list)")
    tz = settings.tz
    plan = plan_of(activity)
    sessions = schedule.on_day(plan, day, tz)
    if not sessions:
        raise InvalidInput(_not_a_session(activity, day, plan, tz), field="day")
    if (await activity_store.cancelled_between(session, activity.id, day, day)).get(day) is not None:
        raise Conflict(f"the session on {day.isoformat()} of activity {activity.id} was cancelled: there is no attendance to record", field="day")
    starts_at = min(s.starts_at for s in sessions)
    if starts_at > now:
        raise Conflict(f"the session {shown(starts_at, tz)} has not begun yet", field="day")
    both = sorted(set(present) & set(absent))
    if both:
        raise InvalidInput(f"participant {both[0]} is named both --present and --absent", field="present")
    if not present and not absent:
        raise InvalidInput("name at least one participant with --present or --absent", field="present")
    enrolled = {e.participant_id for e in await activity_store.enrolled_on(session, activity.id, day)}
    for field_name, ids in (("present", present), ("absent", absent)):
        outside = [pid for pid in ids if pid not in enrolled]
        if outside:
            raise InvalidInput(f"participant {outside[0]} is not enrolled in activity {activity.id} on {day.isoformat()}", field=field_name)
    before = {pid: row.present for pid, row in (await store.attendance_of(session, activity.id, day)).items()}
    marks = [Mark(pid, True) for pid in dict.fromkeys(present)] + [Mark(pid, False) for pid in dict.fromkeys(absent)]
    by = recorded_by(actor)
    await apply_changes(session, store.attendance_changes(session.get_bind(), activity.id, day, marks, by, now))
    return AttendanceView(activity.id, activity.name, day, starts_at, by, tuple(Recorded(m.participant_id, m.present, before.get(m.participant_id)) for m in marks))


def recorded_by(actor: Actor) -> str:
    """Who recorded it, as the attendance row and the event say: ``cli:karin``, ``leader:3``."""
    return f"{actor.kind}:{actor.name}"

