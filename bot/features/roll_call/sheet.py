"""The roll call of one activity on one day: who is on it, what was recorded, and how it reads.

`RollCall` is plain data, read through a `storage.writer.Reader` (the hot path's store, or a
session via `SessionReader`) by `load_activities`, so the outbox's composer, the leader's taps and
the CLI see the same thing. `sheet` and `summary` turn it into a message with buttons in the
leader's language; nothing here does IO.

Leaders see a participant only as first name and the initial of the last name («Amina Y.»);
two who would read the same get a number after it («Amina Y. (2)», by participant id), never
more of the name.

A button's callback data names ids only: ``rc:<activity>:<days since 2000-01-01>:<what>``, where
*what* is a participant id (toggle), ``d`` (done) or ``o`` (open); at most 22 bytes.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select

from bot.features.activities.schedule import Plan, WeeklyRule, on_day
from flows.engine import Button, OutgoingMessage
from locales import N_, Texts
from locales.format import format_clock, format_day
from storage.models import Activity, ActivityRule, Attendance, CancelledSession, Enrolment, LeaderActivity, Participant
from storage.writer import Reader

PREFIX = "rc"
DONE, OPEN = "d", "o"
EPOCH = date(2000, 1, 1)
DAYS_BACK = 7  # a leader may open and correct the roll calls of today and the last 7 days
_DATA = re.compile(r"rc:([1-9][0-9]{0,8}):([0-9]{1,6}):([1-9][0-9]{0,9}|d|o)")

NOT_YET, PRESENT, ABSENT = "⬜", "✅", "❌"
HEADING = N_("Upprop: {activity} · {time} · {day}")
HOW = N_("Tryck på ett namn: ⬜ inte markerad, ✅ här, ❌ inte här.")
NOBODY = N_("Ingen är anmäld till den här träffen.")
DONE_BUTTON = N_("Klar")
EDIT_BUTTON = N_("Ändra")
COUNTS = N_("Här: {present} · Inte här: {absent}")


@dataclass(frozen=True)
class Address:
    """What a roll-call button names."""

    activity_id: int
    day: date
    what: str  # a participant id, DONE or OPEN

    @property
    def participant_id(self) -> int | None:
        return int(self.what) if self.what.isdigit() else None

    @classmethod
    def parse(cls, data: str | None) -> Address | None:
        match = _DATA.fullmatch(data or "")
        if match is None:
            return None
        try:
            day = EPOCH + timedelta(days=int(match[2]))
        except OverflowError:
            return None
        return cls(int(match[1]), day, match[3])


def data(activity_id: int, day: date, what: str | int) -> str:
    return f"{PREFIX}:{activity_id}:{(day - EPOCH).days}:{what}"


@dataclass(frozen=True)
class Person:
    id: int
    label: str  # first name and initial, told apart by a number when needed
    present: bool | None  # None: not recorded yet


@dataclass(frozen=True)
class RollCall:
    activity_id: int
    activity: str
    day: date
    starts_at: datetime | None  # the day's first session (UTC); None: not a session day
    cancelled: bool
    people: tuple[Person, ...]

    def person(self, participant_id: int) -> Person | None:
        return next((p for p in self.people if p.id == participant_id), None)

    @property
    def not_yet(self) -> list[int]:
        return [p.id for p in self.people if p.present is None]


@dataclass(frozen=True)
class ActivityRoll:
    """An activity as its roll calls need it: plan, cancelled days, enrolments with names,
    recorded attendance (of the days loaded) and its leaders."""

    id: int
    name: str
    plan: Plan
    cancelled: frozenset[date]
    enrolments: tuple[tuple[int, date, date | None], ...]  # (participant, from, left)
    names: dict[int, str]
    attendance: dict[tuple[date, int], bool] = field(default_factory=dict)
    leaders: frozenset[int] = frozenset()

    def starts_at(self, day: date, tz: ZoneInfo) -> datetime | None:
        starts = [s.starts_at for s in on_day(self.plan, day, tz)]
        return min(starts) if starts else None

    def enrolled(self, day: date) -> list[int]:
        return sorted({pid for pid, first, left in self.enrolments if first <= day and (left is None or left > day)})

    def on(self, day: date, tz: ZoneInfo) -> RollCall:
        ids = self.enrolled(day)
        labels = labels_for({pid: self.names.get(pid, "") for pid in ids})
        people = tuple(Person(pid, labels[pid], self.attendance.get((day, pid))) for pid in ids)
        return RollCall(self.id, self.name, day, self.starts_at(day, tz), day in self.cancelled, people)


def short_name(name: str) -> str:
    """«Amina Yusuf Hassan» → «Amina H.»; a one-word name stays as it is."""
    words = name.split()
    if not words:
        return "?"
    if len(words) == 1:
        return words[0]
    return f"{words[0]} {words[-1][0].upper()}."


def labels_for(names: dict[int, str]) -> dict[int, str]:
    """Each participant's label; the second and later with the same one get « (2)», « (3)» … by id."""
    seen: dict[str, int] = {}
    labels = {}
    for pid in sorted(names):
        label = short_name(names[pid])
        seen[label] = seen.get(label, 0) + 1
        labels[pid] = label if seen[label] == 1 else f"{label} ({seen[label]})"
    return labels


async def load_activities(reader: Reader, ids: Collection[int], since: date) -> dict[int, ActivityRoll]:
    """The activities with these ids, with the attendance recorded on `since` and after."""
    if not ids:
        return {}
    wanted = sorted(ids)
    activities, cancelled, people, attendance, leaders = await asyncio.gather(
        reader.fetch(
            select(Activity.id, Activity.name, Activity.duration_minutes, Activity.starts_on, Activity.ends_on, Activity.on_holidays, ActivityRule.weekday, ActivityRule.local_time)
            .outerjoin(ActivityRule, ActivityRule.activity_id == Activity.id)
            .where(Activity.id.in_(wanted))
        ),
        reader.fetch(select(CancelledSession.activity_id, CancelledSession.local_date).where(CancelledSession.activity_id.in_(wanted))),
        reader.fetch(
            select(Enrolment.activity_id, Enrolment.participant_id, Enrolment.from_date, Enrolment.left_date, Participant.name)
            .join(Participant, Participant.id == Enrolment.participant_id)
            .where(Enrolment.activity_id.in_(wanted))
        ),
        reader.fetch(
            select(Attendance.activity_id, Attendance.local_date, Attendance.participant_id, Attendance.present).where(
                and_(Attendance.activity_id.in_(wanted), Attendance.local_date >= since)
            )
        ),
        reader.fetch(select(LeaderActivity.activity_id, LeaderActivity.leader_id).where(LeaderActivity.activity_id.in_(wanted))),
    )
    found: dict[int, ActivityRoll] = {}
    heads = {row.id: row for row in activities}
    for aid, a in heads.items():
        weekly = tuple(sorted({WeeklyRule(r.weekday, r.local_time) for r in activities if r.id == aid and r.weekday is not None}))
        plan = Plan(weekly, timedelta(minutes=a.duration_minutes), a.starts_on, a.ends_on, a.on_holidays)
        found[aid] = ActivityRoll(
            aid, a.name, plan,
            frozenset(c.local_date for c in cancelled if c.activity_id == aid),
            tuple((p.participant_id, p.from_date, p.left_date) for p in people if p.activity_id == aid),
            {p.participant_id: p.name for p in people if p.activity_id == aid},
            {(r.local_date, r.participant_id): bool(r.present) for r in attendance if r.activity_id == aid},
            frozenset(r.leader_id for r in leaders if r.activity_id == aid),
        )
    return found


async def load_roll_call(reader: Reader, activity_id: int, day: date, tz: ZoneInfo) -> RollCall | None:
    """One day's roll call, or None when there is no such activity: two reads, for a leader's tap."""
    cancelled = select(CancelledSession.id).where(CancelledSession.activity_id == Activity.id, CancelledSession.local_date == day).exists()
    heads, people = await asyncio.gather(
        reader.fetch(
            select(Activity.name, Activity.duration_minutes, Activity.starts_on, Activity.ends_on, Activity.on_holidays, ActivityRule.weekday, ActivityRule.local_time, cancelled.label("cancelled"))
            .outerjoin(ActivityRule, ActivityRule.activity_id == Activity.id)
            .where(Activity.id == activity_id)
        ),
        reader.fetch(
            select(Enrolment.participant_id, Enrolment.from_date, Enrolment.left_date, Participant.name, Attendance.present)
            .join(Participant, Participant.id == Enrolment.participant_id)
            .outerjoin(Attendance, and_(Attendance.activity_id == activity_id, Attendance.local_date == day, Attendance.participant_id == Enrolment.participant_id))
            .where(Enrolment.activity_id == activity_id)
        ),
    )
    if not heads:
        return None
    a = heads[0]
    weekly = tuple(sorted({WeeklyRule(r.weekday, r.local_time) for r in heads if r.weekday is not None}))
    plan = Plan(weekly, timedelta(minutes=a.duration_minutes), a.starts_on, a.ends_on, a.on_holidays)
    roll = ActivityRoll(
        activity_id, a.name, plan, frozenset({day} if a.cancelled else ()),
        tuple((p.participant_id, p.from_date, p.left_date) for p in people),
        {p.participant_id: p.name for p in people},
        {(day, p.participant_id): bool(p.present) for p in people if p.present is not None},
    )
    return roll.on(day, tz)


# ---- how it reads ----------------------------------------------------------------------------


def heading(roll: RollCall, texts: Texts, tz: ZoneInfo) -> str:
    moment = roll.starts_at or datetime.combine(roll.day, datetime.min.time(), tz)
    language = texts.language
    return texts.gettext(HEADING, activity=roll.activity, time=format_clock(moment, language, tz), day=format_day(moment, language, tz))


def _mark(present: bool | None) -> str:
    return NOT_YET if present is None else PRESENT if present else ABSENT


def sheet(roll: RollCall, texts: Texts, tz: ZoneInfo) -> OutgoingMessage:
    """The roll call to tap: a button per participant (two a row) with its mark, then *Klar*."""
    if not roll.people:
        return OutgoingMessage(f"{heading(roll, texts, tz)}\n{texts.gettext(NOBODY)}")
    buttons = [Button(f"{_mark(p.present)} {p.label}", data(roll.activity_id, roll.day, p.id)) for p in roll.people]
    rows = [tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]
    rows.append((Button(texts.gettext(DONE_BUTTON), data(roll.activity_id, roll.day, DONE)),))
    return OutgoingMessage(f"{heading(roll, texts, tz)}\n{texts.gettext(HOW)}", tuple(rows))


def summary(roll: RollCall, texts: Texts, tz: ZoneInfo) -> OutgoingMessage:
    """What was recorded, short: the counts, who was there and who was not, and *Ändra*."""
    here = [p.label for p in roll.people if p.present]
    away = [p.label for p in roll.people if p.present is False]
    lines = [heading(roll, texts, tz), texts.gettext(COUNTS, present=len(here), absent=len(away))]
    if here:
        lines.append(f"{PRESENT} " + ", ".join(here))
    if away:
        lines.append(f"{ABSENT} " + ", ".join(away))
    return OutgoingMessage("\n".join(lines), ((Button(texts.gettext(EDIT_BUTTON), data(roll.activity_id, roll.day, OPEN)),),))


def next_mark(present: bool | None) -> bool:
    """A tap: not yet → here → not here → here …"""
    return present is not True
