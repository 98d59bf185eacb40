"""The funders' monthly reports as typed services: attendance and practice check-ins per activity.

A report is about one calendar month in local time (``settings.tz``): the sessions on its local
dates, the roll calls (`Attendance`) of those dates, the participants' own reports about them
(``activity_report`` events), and the check-ins of the ISO weeks whose Thursday falls in it. Every
query is bounded by the month's dates (the check-in report: by it and the month before), so a
report takes as long after three years as after one month (``bench/reports.py``). What each
figure means is written for the municipality in ``docs/reports.md``; the numbers here are plain
counts, the formats are ``writers.py``'s.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.features.activities import schedule
from bot.features.activities.question import REPORT
from bot.features.activities.subjects import plan_of
from bot.services import Actor, InvalidInput, NotFound
from storage.models import Activity, Attendance, CancelledSession, CheckIn, Enrolment, Event, Gender, Participant

REASONS = ("sick", "child_sick", "other_appt", "transport", "other")  # the coming-today question's, in its order
GENDERS = (Gender.WOMAN.value, Gender.MAN.value, Gender.OTHER.value, "not_given")  # "unknown" and none are "not given"
PRACTICE = ("a_lot", "a_little", "not_this_week")
PLACES = ("sfi", "language_cafe", "work", "home", "friends")
# How long before and after its session's day a participant's report about it may be given
# ("I can't come" picked from the menu for a coming session; a late answer the same day). The
# events read are those of the month widened by these, so a report costs one month, not the history.
REPORTED_BEFORE = timedelta(days=31)
REPORTED_AFTER = timedelta(days=2)
_MONTH = re.compile(r"([0-9]{4})-([0-9]{1,2})")


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last(self) -> date:
        return self.following.first - timedelta(days=1)

    @property
    def following(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    @property
    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def weeks(self) -> list[date]:
        """The Mondays of the ISO weeks that belong to this month: those whose Thursday is in it."""
        thursday = self.first + timedelta(days=(3 - self.first.weekday()) % 7)
        found = []
        while thursday <= self.last:
            found.append(thursday - timedelta(days=3))
            thursday += timedelta(weeks=1)
        return found

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def parse_month(text: str) -> Month:
    """A month written ``YYYY-MM`` (``2027-01``)."""
    match = _MONTH.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"must be a month written YYYY-MM, e.g. 2027-01, not {text!r}")
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12:
        raise ValueError(f"{text!r} has no month {month}; months are 01 to 12")
    if year < 2000:
        raise ValueError(f"{text!r} is before Stegvis kept any records; check the year")
    return Month(year, month)


def gender_of(stored: str | None) -> str:
    return stored if stored in GENDERS else "not_given"


@dataclass(frozen=True)
class ActivityName:
    id: int
    name: str
    organisation: str


# The attendance report


@dataclass
class AttendanceCounts:
    """Participant-sessions of one activity (or all) in the month, by what happened."""

    present: int = 0
    absent_by_reason: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    absent_no_reason: int = 0
    unreported: int = 0

    @property
    def absent(self) -> int:
        return sum(self.absent_by_reason.values()) + self.absent_no_reason

    @property
    def rate(self) -> float | None:
        """present / (present + absent); None when no roll call was recorded."""
        recorded = self.present + self.absent
        return self.present / recorded if recorded else None

    def count(self, outcome: str) -> None:
        if outcome == "present":
            self.present += 1
        elif outcome == "unreported":
            self.unreported += 1
        elif outcome in self.absent_by_reason:
            self.absent_by_reason[outcome] += 1
        else:
            self.absent_no_reason += 1

    def add(self, other: AttendanceCounts) -> None:
        self.present += other.present
        self.absent_no_reason += other.absent_no_reason
        self.unreported += other.unreported
        for reason, n in other.absent_by_reason.items():
            self.absent_by_reason[reason] += n

    def as_json(self) -> dict[str, Any]:
        return {
            "present": self.present, "absent": self.absent, "absent_by_reason": dict(self.absent_by_reason),
            "absent_no_reason": self.absent_no_reason, "unreported": self.unreported, "rate": self.rate,
        }


@dataclass
class AttendanceRow:
    activity: ActivityName | None  # None: all the report's activities together
    sessions_held: int = 0
    sessions_cancelled: int = 0
    sessions_upcoming: int = 0
    counts: AttendanceCounts = field(default_factory=AttendanceCounts)
    by_gender: dict[str, AttendanceCounts] = field(default_factory=lambda: {g: AttendanceCounts() for g in GENDERS})

    def add(self, other: AttendanceRow) -> None:
        self.sessions_held += other.sessions_held
        self.sessions_cancelled += other.sessions_cancelled
        self.sessions_upcoming += other.sessions_upcoming
        self.counts.add(other.counts)
        for gender, counts in other.by_gender.items():
            self.by_gender[gender].add(counts)

    def as_json(self, by_gender: bool) -> dict[str, Any]:
        found: dict[str, Any] = {
            **({"activity_id": self.activity.id, "activity": self.activity.name, "organisation": self.activity.organisation} if self.activity else {"activity_id": None}),
            "sessions_held": self.sessions_held, "sessions_cancelled": self.sessions_cancelled, "sessions_upcoming": self.sessions_upcoming,
            **self.counts.as_json(),
        }
        if by_gender:
            found["by_gender"] = {g: c.as_json() for g, c in self.by_gender.items()}
        return found


@dataclass(frozen=True)
class AttendanceReport:
    month: Month
    timezone: str
    organisation: str | None
    by_gender: bool
    rows: tuple[AttendanceRow, ...]
    total: AttendanceRow

    def as_json(self, tz: ZoneInfo | None = None) -> dict[str, Any]:
        return {
            "report": "attendance", "month": str(self.month), "timezone": self.timezone, "organisation": self.organisation,
            "activities": [row.as_json(self.by_gender) for row in self.rows], "total": self.total.as_json(self.by_gender),
        }


async def attendance_report(
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    *,
    month: Month,
    organisation: str | None = None,
    activity_id: int | None = None,
    by_gender: bool = False,
    now: datetime,
) -> AttendanceReport:
    """Per activity: its sessions in the month, and for each session day held so far who was there,
    who was absent and why (their own report), and whom nobody recorded."""
    tz = settings.tz
    first, last = month.first, month.last
    activities, organisation = await _activities(session, first, last, organisation, activity_id)
    ids = [a.id for a in activities]
    cancelled = await _cancelled(session, ids, first, last)
    enrolments = await _enrolments(session, ids, first, last)
    recorded = await _attendance(session, ids, first, last)
    reasons = await _absence_reasons(session, set(ids), first, last, tz)
    people = {pid for by_day in recorded.values() for pid in by_day} | {e.participant_id for e in enrolments}
    genders = await _genders(session, people) if by_gender else {}

    enrolled_in: dict[int, list[Enrolment]] = defaultdict(list)
    for enrolment in enrolments:
        enrolled_in[enrolment.activity_id].append(enrolment)
    rows = []
    for activity in activities:
        row = AttendanceRow(ActivityName(activity.id, activity.name, activity.organisation))
        days_held = set()
        for found in schedule.sessions(plan_of(activity), first, last, tz, cancelled=cancelled.get(activity.id, {})):
            if found.cancelled:
                row.sessions_cancelled += 1
            elif found.starts_at <= now:
                row.sessions_held += 1
                days_held.add(found.day)
            else:
                row.sessions_upcoming += 1
        # The roll call is of a day: with two sessions on one day, a participant counts once.
        for day in sorted(days_held):
            expected = {e.participant_id for e in enrolled_in[activity.id] if e.from_date <= day and (e.left_date is None or e.left_date > day)}
            taken = recorded.get((activity.id, day), {})
            for pid in sorted(expected | taken.keys()):
                present = taken.get(pid)
                if present is None:
                    outcome = "unreported"
                elif present:
                    outcome = "present"
                else:
                    outcome = reasons.get((activity.id, day, pid)) or "no_reason"
                row.counts.count(outcome)
                row.by_gender[gender_of(genders.get(pid))].count(outcome)
        rows.append(row)
    total = AttendanceRow(None)
    for row in rows:
        total.add(row)
    return AttendanceReport(month, settings.timezone, organisation, by_gender, tuple(rows), total)


# The check-in report


@dataclass
class CheckinCounts:
    """The check-ins of one activity's participants (or all) in the month."""

    sent: int = 0
    answered: int = 0
    unanswered: int = 0
    practice: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PRACTICE, 0))
    places: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PLACES, 0))
    confidence_total: int = 0
    confidence_answers: int = 0
    voice_notes: int = 0

    @property
    def waiting(self) -> int:
        """Sent, neither answered nor given up on yet (the nudge's day has not passed)."""
        return self.sent - self.answered - self.unanswered

    @property
    def answered_share(self) -> float | None:
        return self.answered / self.sent if self.sent else None

    @property
    def confidence(self) -> float | None:
        """The average of the confidence answers (1 … 5); None without any."""
        return self.confidence_total / self.confidence_answers if self.confidence_answers else None

    def count(self, checkin: Any) -> None:
        """Count one check-in (a `CheckIn`, or a row of its columns)."""
        self.sent += 1
        if checkin.answered_at is not None:
            self.answered += 1
        elif checkin.unanswered_at is not None:
            self.unanswered += 1
        if checkin.practice in self.practice:
            self.practice[checkin.practice] += 1
        for place in set(checkin.places or ()):
            if place in self.places:
                self.places[place] += 1
        if checkin.confidence is not None:
            self.confidence_total += checkin.confidence
            self.confidence_answers += 1
        self.voice_notes += checkin.voice_notes or 0

    def as_json(self) -> dict[str, Any]:
        return {
            "sent": self.sent, "answered": self.answered, "unanswered": self.unanswered, "waiting": self.waiting,
            "practice": dict(self.practice), "places": dict(self.places), "confidence": self.confidence,
            "confidence_answers": self.confidence_answers, "voice_notes": self.voice_notes, "answered_share": self.answered_share,
        }


@dataclass
class CheckinFigures:
    """One month's counts beside the month before's, and the change between them."""

    now: CheckinCounts = field(default_factory=CheckinCounts)
    before: CheckinCounts = field(default_factory=CheckinCounts)

    @property
    def confidence_change(self) -> float | None:
        if self.now.confidence is None or self.before.confidence is None:
            return None
        return self.now.confidence - self.before.confidence

    @property
    def answered_share_change(self) -> float | None:
        """In percentage points."""
        if self.now.answered_share is None or self.before.answered_share is None:
            return None
        return (self.now.answered_share - self.before.answered_share) * 100

    def as_json(self) -> dict[str, Any]:
        return {
            **self.now.as_json(), "previous_confidence": self.before.confidence, "previous_answered_share": self.before.answered_share,
            "confidence_change": self.confidence_change, "answered_share_change_points": self.answered_share_change,
        }


@dataclass
class CheckinRow:
    activity: ActivityName | None  # None: all the report's activities together, each check-in once
    figures: CheckinFigures = field(default_factory=CheckinFigures)
    by_gender: dict[str, CheckinFigures] = field(default_factory=lambda: {g: CheckinFigures() for g in GENDERS})

    def as_json(self, by_gender: bool) -> dict[str, Any]:
        found: dict[str, Any] = {
            **({"activity_id": self.activity.id, "activity": self.activity.name, "organisation": self.activity.organisation} if self.activity else {"activity_id": None}),
            **self.figures.as_json(),
        }
        if by_gender:
            found["by_gender"] = {g: f.as_json() for g, f in self.by_gender.items()}
        return found


@dataclass(frozen=True)
class CheckinReport:
    month: Month
    timezone: str
    organisation: str | None
    by_gender: bool
    weeks: tuple[date, ...]
    rows: tuple[CheckinRow, ...]
    total: CheckinRow

    def as_json(self, tz: ZoneInfo | None = None) -> dict[str, Any]:
        return {
            "report": "checkins", "month": str(self.month), "timezone": self.timezone, "organisation": self.organisation,
            "weeks": [w.isoformat() for w in self.weeks],
            "activities": [row.as_json(self.by_gender) for row in self.rows], "total": self.total.as_json(self.by_gender),
        }


async def checkin_report(
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    *,
    month: Month,
    organisation: str | None = None,
    activity_id: int | None = None,
    by_gender: bool = False,
    now: datetime,
) -> CheckinReport:
    """Per activity: the check-ins of the participants enrolled in it that week, for the month's
    weeks and, to show the change, the month before's."""
    weeks, weeks_before = month.weeks(), month.previous.weeks()
    first, last = weeks_before[0], weeks[-1] + timedelta(days=6)
    activities, organisation = await _activities(session, first, last, organisation, activity_id)
    ids = [a.id for a in activities]
    enrolments = await _enrolments(session, ids, first, last)
    taking_part: dict[int, list[Enrolment]] = defaultdict(list)
    for enrolment in enrolments:
        taking_part[enrolment.participant_id].append(enrolment)
    checkins = await _checkins(session, taking_part.keys(), weeks_before[0], weeks[-1])
    genders = await _genders(session, taking_part.keys()) if by_gender else {}

    rows = {a.id: CheckinRow(ActivityName(a.id, a.name, a.organisation)) for a in activities}
    total = CheckinRow(None)
    this_month = set(weeks)
    for checkin in checkins:
        sunday = checkin.week + timedelta(days=6)
        enrolled_in = {e.activity_id for e in taking_part[checkin.participant_id] if e.from_date <= sunday and (e.left_date is None or e.left_date > checkin.week)}
        gender = gender_of(genders.get(checkin.participant_id))
        for row in [rows[aid] for aid in sorted(enrolled_in)] + ([total] if enrolled_in else []):
            for figures in (row.figures, row.by_gender[gender]):
                (figures.now if checkin.week in this_month else figures.before).count(checkin)
    return CheckinReport(month, settings.timezone, organisation, by_gender, tuple(weeks), tuple(rows[a.id] for a in activities), total)


# Reading one month


async def _activities(session: AsyncSession, first: date, last: date, organisation: str | None, activity_id: int | None) -> tuple[list[Activity], str | None]:
    """The activities the report is about (held some day from ``first`` to ``last``), and the organisation as stored."""
    if organisation is not None:
        known = sorted(await session.scalars(select(Activity.organisation).distinct()))
        wanted = organisation.strip().casefold()
        matching = [name for name in known if name.casefold() == wanted]
        if not matching:
            listed = "; the organisations are: " + ", ".join(known) if known else "; there are no activities yet"
            raise InvalidInput(f"no activity is run by {organisation.strip()!r}{listed}", field="organisation")
        organisation = matching[0]
    if activity_id is not None:
        activity = await session.scalar(select(Activity).where(Activity.id == activity_id))
        if activity is None:
            raise NotFound(f"no activity with id {activity_id} (see: stegvis activity list)", field="activity")
        if organisation is not None and activity.organisation != organisation:
            raise InvalidInput(f"activity {activity_id} is run by {activity.organisation}, not {organisation}", field="activity")
        return [activity], organisation
    query = select(Activity).where(Activity.starts_on <= last, or_(Activity.ends_on.is_(None), Activity.ends_on >= first))
    if organisation is not None:
        query = query.where(Activity.organisation == organisation)
    return list(await session.scalars(query.order_by(Activity.id))), organisation


async def _cancelled(session: AsyncSession, ids: Sequence[int], first: date, last: date) -> dict[int, dict[date, str | None]]:
    found: dict[int, dict[date, str | None]] = defaultdict(dict)
    if ids:
        rows = await session.execute(
            select(CancelledSession.activity_id, CancelledSession.local_date, CancelledSession.reason).where(
                CancelledSession.activity_id.in_(ids), CancelledSession.local_date >= first, CancelledSession.local_date <= last
            )
        )
        for aid, day, reason in rows:
            found[aid][day] = reason
    return found


async def _enrolments(session: AsyncSession, ids: Sequence[int], first: date, last: date) -> list[Enrolment]:
    """The enrolments of these activities that overlap ``first`` … ``last``."""
    if not ids:
        return []
    query = select(Enrolment).where(
        Enrolment.activity_id.in_(ids), Enrolment.from_date <= last, or_(Enrolment.left_date.is_(None), Enrolment.left_date > first)
    )
    return list(await session.scalars(query.order_by(Enrolment.id)))


async def _attendance(session: AsyncSession, ids: Sequence[int], first: date, last: date) -> dict[tuple[int, date], dict[int, bool]]:
    found: dict[tuple[int, date], dict[int, bool]] = defaultdict(dict)
    if ids:
        rows = await session.execute(
            select(Attendance.activity_id, Attendance.local_date, Attendance.participant_id, Attendance.present).where(
                Attendance.local_date >= first, Attendance.local_date <= last, Attendance.activity_id.in_(ids)
            )
        )
        for aid, day, pid, present in rows:
            found[(aid, day)][pid] = bool(present)
    return found


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tz).astimezone(timezone.utc)


async def _absence_reasons(session: AsyncSession, ids: set[int], first: date, last: date, tz: ZoneInfo) -> dict[tuple[int, date, int], str | None]:
    """(activity, day, participant) → the reason of the participant's last "not coming" for that
    session (None: said no without one); only for those whose last word was "not coming".

    Each press is its own event: ``{coming: false}``, then ``{reason: ...}``; a later
    ``{coming: ...}`` replaces both.
    """
    if not ids:
        return {}
    since, until = _midnight(first, tz) - REPORTED_BEFORE, _midnight(last + timedelta(days=1), tz) + REPORTED_AFTER
    rows = await session.execute(
        select(Event.participant_id, Event.payload)
        .where(Event.type == REPORT, Event.occurred_at >= since, Event.occurred_at < until)
        .order_by(Event.occurred_at, Event.id)
    )
    said: dict[tuple[int, date, int], tuple[bool, str | None]] = {}
    low, high = first.isoformat(), last.isoformat()
    for pid, payload in rows:
        aid, day = payload.get("activity_id"), payload.get("date")
        if pid is None or aid not in ids or not isinstance(day, str) or not low <= day <= high:
            continue
        key = (aid, date.fromisoformat(day), pid)
        if "coming" in payload:
            said[key] = (bool(payload["coming"]), None)
        elif "reason" in payload and key in said and not said[key][0]:
            said[key] = (False, payload["reason"] if payload["reason"] in REASONS else None)
    return {key: reason for key, (coming, reason) in said.items() if not coming}


async def _genders(session: AsyncSession, ids: Iterable[int]) -> dict[int, str | None]:
    wanted = sorted(set(ids))
    found: dict[int, str | None] = {}
    for start in range(0, len(wanted), 500):  # stay well under the databases' limits on bound parameters
        rows = await session.execute(select(Participant.id, Participant.gender).where(Participant.id.in_(wanted[start : start + 500])))
        found.update({pid: gender for pid, gender in rows})
    return found


async def _checkins(session: AsyncSession, participants: Iterable[int], first_week: date, last_week: date) -> list[Any]:
    wanted = set(participants)
    if not wanted:
        return []
    # By week (its index), then kept for the participants enrolled: an IN list of thousands of ids would cost more.
    # Plain rows with the columns a report counts, not ORM objects: a month of 2,000 people is 9,000 of them.
    columns = (CheckIn.participant_id, CheckIn.week, CheckIn.answered_at, CheckIn.unanswered_at, CheckIn.practice, CheckIn.places, CheckIn.confidence, CheckIn.voice_notes)
    rows = await session.execute(select(*columns).where(CheckIn.week >= first_week, CheckIn.week <= last_week).order_by(CheckIn.week, CheckIn.id))
    return [c for c in rows if c.participant_id in wanted]
