"""What a caseworker's daily digest says: read from the stored events and tables of one window.

The window runs from the previous digest moment (the previous weekday that is not a Swedish
public holiday, at STEGVIS_DIGEST_TIME local time) up to this day's; both instants come from
``from_wall``, so a DST night makes the window an hour shorter or longer, never wrong.
`build_digests` reads each table once for many caseworkers, with queries bounded by the window
(or a short look-back: DIGEST_QUIET_DAYS, four weeks of roll calls and check-ins), never the
history; `build_digest` is the same for one. Only the caseworker's own participants are read.

Sections, in this order (docs/digest.md says what each means for a caseworker):
needs action · today's and tomorrow's appointments · attendance · practice check-ins · new participants.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, or_, select

from bot.features.activities.schedule import holiday
from bot.outbox.quiet_hours import from_wall
from bot.services import NotFound
from locales.languages import LANGUAGES
from storage.models import Activity, Appointment, AppointmentStatus, Attendance, Caseworker, CheckIn, Event, OutboxMessage, OutboxStatus, Participant, ParticipantStatus

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.config import Settings

# Events a participant makes by their own action: any of them is an answer for "quiet" (no answer
# to anything for DIGEST_QUIET_DAYS days). Stopping counts: it is shown on its own line instead.
ANSWERS = (
    "appointment_answer", "appointment_decline_reason", "appointment_decline_note", "appointment_note_skipped",
    "activity_report", "activity_note_skipped", "checkin_practice", "checkin_places", "checkin_confidence",
    "checkin_voice_note", "participant_message", "consent", "language_chosen", "participant_stopped",
)
# Messages that ask a participant something: quiet means asked and not answering.
QUESTIONS = ("reminder_sent", "activity_question_sent", "checkin_sent")
WINDOW_EVENTS = ("participant_message", "participant_stopped", "participant_unreachable", "message_failed", "consent", "data_copy_requested")
IN_CHUNKS = 900  # ids per IN (...) list: under SQLite's bound-parameter limits everywhere

LANGUAGE_NAMES = {code: language.swedish_name for code, language in LANGUAGES.items()}  # for staff, in Swedish
ANSWER_WORDS = {"coming": "kommer", "cant_come": "kan inte komma", "new_time": "vill ha en ny tid", "unanswered": "svarade inte", None: "inget svar än"}
REASON_WORDS = {"sick": "sjuk", "child_sick": "barnet sjukt", "other_appt": "har en annan tid", "transport": "kan inte ta sig dit", "other": "något annat"}
PRACTICE_WORDS = {"a_lot": "har övat mycket", "a_little": "har övat lite", "not_this_week": "har inte övat den här veckan"}
LEVEL_FACES = {1: "😟", 2: "🙁", 3: "😐", 4: "🙂", 5: "😄"}

NEEDS_ACTION, APPOINTMENTS, ATTENDANCE, CHECKINS, JOINED = "needs_action", "appointments", "attendance", "checkins", "joined"
SECTION_TITLES = {
    NEEDS_ACTION: "Behöver åtgärd",
    APPOINTMENTS: "Möten idag och imorgon",
    ATTENDANCE: "Närvaro sedan förra sammanfattningen",
    CHECKINS: "Avstämningar om språkträning",
    JOINED: "Nya deltagare",
}


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    language: str | None

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.split() else self.name


@dataclass(frozen=True)
class Quote:
    """A participant's own words, exactly as written, and the language they chose."""

    text: str
    language: str | None

    @property
    def language_name(self) -> str:
        return LANGUAGE_NAMES.get(self.language or "", self.language or "okänt språk")


@dataclass(frozen=True)
class Line:
    kind: str  # what it concerns: declined, new_time, message, voice, mydata, stopped, unreachable, failed, quiet, absent_twice, appointment, activity, absent, present, checkin, joined
    participant: Person | None  # None: a heading line (an activity's count)
    text: str  # Stegvis's own Swedish words
    quote: Quote | None = None
    at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "participant": None if self.participant is None else {"id": self.participant.id, "name": self.participant.name, "language": self.participant.language},
            "text": self.text, "quote": None if self.quote is None else {"text": self.quote.text, "language": self.quote.language},
            "at": None if self.at is None else self.at.isoformat(),
        }


@dataclass(frozen=True)
class Section:
    key: str
    lines: tuple[Line, ...]

    @property
    def title(self) -> str:
        return SECTION_TITLES[self.key]


@dataclass(frozen=True)
class Digest:
    caseworker_id: int
    caseworker_name: str
    day: date
    window_start: datetime  # UTC, the previous digest moment
    window_end: datetime  # UTC, this day's digest moment
    sections: tuple[Section, ...]

    @property
    def empty(self) -> bool:
        return not any(section.lines for section in self.sections)

    @property
    def participant_ids(self) -> tuple[int, ...]:
        """Everyone a line names: whose data showing this digest shows (the access log's row)."""
        return tuple(sorted({line.participant.id for section in self.sections for line in section.lines if line.participant is not None}))


def digest_time(settings: Settings) -> time:
    from bot.validation import parse_time

    return parse_time(getattr(settings, "digest_time", "07:30"))


def is_digest_day(day: date) -> bool:
    return day.weekday() < 5 and holiday(day) is None


def previous_digest_day(day: date) -> date:
    before = day - timedelta(days=1)
    while not is_digest_day(before):
        before -= timedelta(days=1)
    return before


def window(settings: Settings, day: date) -> tuple[datetime, datetime]:
    at = digest_time(settings)
    return from_wall(datetime.combine(previous_digest_day(day), at), settings.tz), from_wall(datetime.combine(day, at), settings.tz)


async def build_digest(session: AsyncSession, settings: Settings, *, caseworker_id: int, day: date, now: datetime) -> Digest:
    """One caseworker's digest for ``day``; NotFound for an unknown caseworker."""
    digests = await build_digests(session, settings, [caseworker_id], day, now)
    if caseworker_id not in digests:
        raise NotFound(f"no caseworker with id {caseworker_id} (see: stegvis caseworker list)", field="caseworker")
    return digests[caseworker_id]


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    ids = list(ids)
    for start in range(0, len(ids), IN_CHUNKS):
        yield ids[start : start + IN_CHUNKS]


@dataclass
class _Lines:
    by_section: dict[int, dict[str, list[tuple[Any, Line]]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(list)))

    def add(self, caseworker_id: int, section: str, line: Line, order: Any) -> None:
        self.by_section[caseworker_id][section].append((order, line))


async def build_digests(session: AsyncSession, settings: Settings, caseworker_ids: Sequence[int], day: date, now: datetime) -> dict[int, Digest]:
    """The digests of many caseworkers for one day, each table read once (in id chunks) for all of them."""
    del now  # the window follows from the day; `now` is in the contract for a digest built early
    tz = settings.tz
    start, end = window(settings, day)
    quiet_days = int(getattr(settings, "digest_quiet_days", 7))
    caseworkers: dict[int, str] = {}
    people: dict[int, Person] = {}
    owner: dict[int, int] = {}
    status: dict[int, str] = {}
    created: dict[int, datetime] = {}
    for chunk in _chunks(caseworker_ids):
        for cid, name in (await session.execute(select(Caseworker.id, Caseworker.name).where(Caseworker.id.in_(chunk)))).all():
            caseworkers[cid] = name
        rows = await session.execute(
            select(Participant.id, Participant.name, Participant.language, Participant.caseworker_id, Participant.status, Participant.created_at).where(Participant.caseworker_id.in_(chunk), Participant.status != ParticipantStatus.ERASED)
        )
        for pid, name, language, cid, state, created_at in rows.all():
            people[pid], owner[pid], status[pid], created[pid] = Person(pid, name, language), cid, str(getattr(state, "value", state)), created_at
    lines = _Lines()

    def mine(chunk: list[int]) -> Any:
        # Every query below is joined to the caseworkers' participants; the de-identified rows an
        # erasure leaves (status erased) keep what the statistics count and are nobody's here.
        return and_(Participant.caseworker_id.in_(chunk), Participant.status != ParticipantStatus.ERASED)

    async def each_chunk(make: Any) -> list[Any]:
        found: list[Any] = []
        for chunk in _chunks(list(caseworkers)):
            found.extend((await session.execute(make(chunk))).all())
        return found

    # --- events of the window: messages, /stop, unreachable, failed messages, joined ---------------
    window_events = await each_chunk(lambda chunk: (
        select(Event.participant_id, Event.type, Event.occurred_at, Event.payload)
        .join(Participant, Participant.id == Event.participant_id)
        .where(Event.type.in_(WINDOW_EVENTS), Event.occurred_at >= start, Event.occurred_at < end, mine(chunk))
        .order_by(Event.occurred_at, Event.id)
    ))
    failed_ids = [e.payload.get("outbox_id") for e in window_events if e.type == "message_failed" and isinstance(e.payload.get("outbox_id"), int)]
    still_failed: set[int] = set()
    for chunk in _chunks(failed_ids):
        still_failed.update((await session.execute(select(OutboxMessage.id).where(OutboxMessage.id.in_(chunk), OutboxMessage.status == OutboxStatus.FAILED))).scalars())
    for pid, type_, at, payload in window_events:
        person, cid = people[pid], owner[pid]
        if type_ == "participant_message":
            language = payload.get("language") or person.language
            if isinstance(payload.get("text"), str):
                lines.add(cid, NEEDS_ACTION, Line("message", person, "skrev till dig", Quote(payload["text"], language), at), (1, at))
            elif isinstance(payload.get("voice"), dict):
                seconds = payload["voice"].get("duration")
                length = f" ({seconds} s)" if isinstance(seconds, int) else ""
                lines.add(cid, NEEDS_ACTION, Line("voice", person, f"skickade ett röstmeddelande{length} på {LANGUAGE_NAMES.get(language or '', language or 'okänt språk')}; lyssna i Telegram", None, at), (1, at))
        elif type_ == "participant_stopped":
            lines.add(cid, NEEDS_ACTION, Line("stopped", person, "sa /stop: får inga meddelanden från Stegvis längre", None, at), (2, at))
        elif type_ == "data_copy_requested":  # /mydata (the leaving feature)
            lines.add(cid, NEEDS_ACTION, Line("mydata", person, f"vill ha en kopia av sina uppgifter: stegvis participant export {pid} --format html --output FIL", None, at), (1, at))
        elif type_ == "participant_unreachable":
            lines.add(cid, NEEDS_ACTION, Line("unreachable", person, "går inte att nå: har blockerat Stegvis i Telegram", None, at), (2, at))
        elif type_ == "message_failed" and payload.get("outbox_id") in still_failed:
            what = payload.get("composer") or "meddelande"
            lines.add(cid, NEEDS_ACTION, Line("failed", person, f"ett meddelande ({what}) kunde inte skickas efter {payload.get('attempts', '?')} försök", None, at), (3, at))
        elif type_ == "consent" and payload.get("answer") == "agreed":
            lines.add(cid, JOINED, Line("joined", person, f"gick med i Stegvis (språk: {LANGUAGE_NAMES.get(person.language or '', person.language or 'inte valt')})", None, at), (at, pid))

    # --- appointments: declined in the next 48 hours, new time asked, today's and tomorrow's -------
    today_first = from_wall(datetime.combine(day, time()), tz)
    tomorrow_end = from_wall(datetime.combine(day + timedelta(days=2), time()), tz)
    horizon = max(tomorrow_end, end + timedelta(hours=48))
    columns = (Appointment.id, Appointment.participant_id, Appointment.starts_at, Appointment.place, Appointment.title, Appointment.answer, Appointment.answered_at)
    appointments = await each_chunk(lambda chunk: (
        select(*columns).join(Participant, Participant.id == Appointment.participant_id)
        .where(Appointment.status == AppointmentStatus.BOOKED, Appointment.starts_at >= min(start, today_first), Appointment.starts_at < horizon, mine(chunk))
    ))
    # A new time asked for in the window may be for a meeting further ahead: found by its answer event.
    asked_new = {e.payload.get("appointment_id") for e in await each_chunk(lambda chunk: (
        select(Event.payload).join(Participant, Participant.id == Event.participant_id)
        .where(Event.type == "appointment_answer", Event.occurred_at >= start, Event.occurred_at < end, mine(chunk))
    )) if e.payload.get("answer") == "new_time"}
    seen = {a.id for a in appointments}
    for chunk in _chunks(sorted(i for i in asked_new if isinstance(i, int) and i not in seen)):
        appointments.extend((await session.execute(
            select(*columns).where(Appointment.id.in_(chunk), Appointment.status == AppointmentStatus.BOOKED, Appointment.starts_at >= start)
        )).all())
    appointments = [a for a in appointments if a.participant_id in owner]  # the events were theirs; the rows must be too
    appointments.sort(key=lambda a: (a.starts_at, a.id))
    declined = [a for a in appointments if a.answer == "cant_come" and end <= a.starts_at < end + timedelta(hours=48)]
    why: dict[int, dict[str, Any]] = defaultdict(dict)
    if declined:
        since = min((a.answered_at or a.starts_at) for a in declined) - timedelta(minutes=1)
        wanted = {a.id for a in declined}
        for chunk in _chunks(sorted({a.participant_id for a in declined})):
            rows = await session.execute(
                select(Event.type, Event.payload).where(Event.participant_id.in_(chunk), Event.occurred_at >= since, Event.occurred_at < end, Event.type.in_(("appointment_decline_reason", "appointment_decline_note")))
                .order_by(Event.occurred_at, Event.id)
            )
            for type_, payload in rows.all():
                if payload.get("appointment_id") in wanted:
                    key = "reason" if type_ == "appointment_decline_reason" else "note"
                    why[payload["appointment_id"]][key] = payload.get("answer") if key == "reason" else payload.get("text")
    for a in appointments:
        person, cid = people[a.participant_id], owner[a.participant_id]
        when = _when(a.starts_at, tz, day)
        what = a.title or "möte"
        if a in declined:
            reason = REASON_WORDS.get(why[a.id].get("reason"), "")
            note = why[a.id].get("note")
            text = f"kan inte komma till {what} {when}" + (f" (orsak: {reason})" if reason else "")
            lines.add(cid, NEEDS_ACTION, Line("declined", person, text, Quote(note, person.language) if isinstance(note, str) else None, a.starts_at), (0, a.starts_at))
        elif a.answer == "new_time" and a.answered_at is not None and start <= a.answered_at < end:
            lines.add(cid, NEEDS_ACTION, Line("new_time", person, f"vill ha en ny tid för {what} {when}", None, a.starts_at), (0, a.starts_at))
        if today_first <= a.starts_at < tomorrow_end:
            lines.add(cid, APPOINTMENTS, Line("appointment", person, f"{what} {when}, {a.place}: {ANSWER_WORDS.get(a.answer, a.answer)}", None, a.starts_at), (a.starts_at, a.id))

    # --- quiet: asked at least a day ago within DIGEST_QUIET_DAYS days, answered nothing since ------
    quiet_from = end - timedelta(days=quiet_days)
    answered = {pid for pid, in await each_chunk(lambda chunk: (
        select(Event.participant_id).join(Participant, Participant.id == Event.participant_id)
        .where(Event.type.in_(ANSWERS), Event.occurred_at >= quiet_from, Event.occurred_at < end, mine(chunk)).group_by(Event.participant_id)
    ))}
    asked = await each_chunk(lambda chunk: (
        select(Event.participant_id, func.count()).join(Participant, Participant.id == Event.participant_id)
        .where(Event.type.in_(QUESTIONS), Event.occurred_at >= quiet_from, Event.occurred_at < end - timedelta(days=1), mine(chunk)).group_by(Event.participant_id)
    ))
    for pid, questions in asked:
        if pid not in answered and status[pid] == ParticipantStatus.ACTIVE.value and created[pid] <= quiet_from:
            lines.add(owner[pid], NEEDS_ACTION, Line("quiet", people[pid], f"har inte svarat på något på {quiet_days} dagar ({questions} frågor)", None, None), (4, pid))

    # --- attendance: the sessions from the previous digest day to yesterday; absent twice in a row --
    first_day, last_day = previous_digest_day(day), day - timedelta(days=1)
    lag = func.lag(Attendance.present, type_=Attendance.present.type).over(partition_by=(Attendance.participant_id, Attendance.activity_id), order_by=Attendance.local_date)
    lag_day = func.lag(Attendance.local_date, type_=Attendance.local_date.type).over(partition_by=(Attendance.participant_id, Attendance.activity_id), order_by=Attendance.local_date)
    # LAG() over four weeks of roll calls in SQL; only the window's sessions come back.
    ranked = select(
        Attendance.participant_id, Attendance.activity_id, Attendance.local_date, Attendance.present, lag.label("before"), lag_day.label("before_day")
    ).join(Participant, Participant.id == Attendance.participant_id).where(Attendance.local_date >= first_day - timedelta(days=28), Attendance.local_date <= last_day)
    in_window = await each_chunk(lambda chunk: (
        (lambda sub: select(sub, Activity.name).join(Activity, Activity.id == sub.c.activity_id).where(sub.c.local_date >= first_day))(ranked.where(mine(chunk)).subquery())
    ))
    absent = [r for r in in_window if not r.present]
    said: dict[tuple[int, int, str], dict[str, Any]] = {}
    if absent:
        # What they said about a session may come up to four weeks before it (/cantcome).
        earliest = {r.participant_id: min(r.local_date, r.before_day) if r.before is False and r.before_day else r.local_date for r in absent}
        since = from_wall(datetime.combine(min(earliest.values()) - timedelta(days=28), time()), tz)
        for chunk in _chunks(sorted(earliest)):
            rows = await session.execute(
                select(Event.participant_id, Event.payload).where(Event.participant_id.in_(chunk), Event.type == "activity_report", Event.occurred_at >= since, Event.occurred_at < end).order_by(Event.occurred_at, Event.id)
            )
            for pid, payload in rows.all():
                key = (pid, payload.get("activity_id"), payload.get("date"))
                report = said.setdefault(key, {})
                if "coming" in payload:
                    report.clear()
                    report["coming"] = bool(payload["coming"])
                elif "reason" in payload:
                    report["reason"] = payload["reason"]
                elif isinstance(payload.get("text"), str):
                    report["text"] = payload["text"]
    per_activity: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for r in in_window:
        per_activity[(owner[r.participant_id], r.activity_id)].append(r)
    for (cid, aid), rows in sorted(per_activity.items(), key=lambda item: (item[1][0].name, item[0][1])):
        present = sum(1 for r in rows if r.present)
        name = rows[0].name
        lines.add(cid, ATTENDANCE, Line("activity", None, f"{name} (aktivitet {aid}): {present} närvarande, {len(rows) - present} frånvarande"), (name, aid, 0))
        for r in sorted(rows, key=lambda r: (r.local_date, people[r.participant_id].name, r.participant_id)):
            if r.present:
                continue
            person = people[r.participant_id]
            report = said.get((r.participant_id, aid, r.local_date.isoformat()), {})
            if report.get("coming") is False:
                reason = REASON_WORDS.get(report.get("reason"), "ingen orsak angiven")
                text = f"frånvarande {_day(r.local_date)} ({name}): {reason}"
            else:
                text = f"frånvarande {_day(r.local_date)} ({name}): sa inte till"
            note = report.get("text") if report.get("coming") is False else None
            lines.add(cid, ATTENDANCE, Line("absent", person, text, Quote(note, person.language) if isinstance(note, str) else None), (name, aid, 1, r.local_date, person.name, person.id))
            before = said.get((r.participant_id, aid, r.before_day.isoformat()), {}) if r.before_day else {}
            if report.get("coming") is not False and r.before is False and before.get("coming") is not False:
                lines.add(cid, NEEDS_ACTION, Line("absent_twice", person, f"frånvarande utan att säga till två gånger i rad i {name} ({_day(r.before_day)} och {_day(r.local_date)})", None, None), (5, person.name, person.id))

    # --- practice check-ins answered in the window, against the four weeks before -----------------
    first_week = _monday(start.astimezone(tz).date()) - timedelta(weeks=1)
    answered_checkins = await each_chunk(lambda chunk: (
        select(CheckIn.participant_id, CheckIn.week, CheckIn.practice, CheckIn.confidence, CheckIn.voice_notes, CheckIn.answered_at)
        .join(Participant, Participant.id == CheckIn.participant_id)
        .where(CheckIn.week >= first_week, CheckIn.week <= day, CheckIn.answered_at >= start, CheckIn.answered_at < end, mine(chunk))
    ))
    if answered_checkins:
        weeks = [c.week for c in answered_checkins]
        # The average of the four weeks before each answered week, summed up in SQL (one query per week).
        earlier: dict[tuple[int, date], tuple[float, int]] = {}
        for week in sorted(set(weeks)):
            rows = await each_chunk(lambda chunk, week=week: (
                select(CheckIn.participant_id, func.avg(CheckIn.confidence), func.count(CheckIn.confidence)).join(Participant, Participant.id == CheckIn.participant_id)
                .where(CheckIn.week >= week - timedelta(weeks=4), CheckIn.week < week, CheckIn.confidence.is_not(None), mine(chunk)).group_by(CheckIn.participant_id)
            ))
            for pid, mean, count in rows:
                earlier[(pid, week)] = (float(mean), int(count))
        for c in answered_checkins:
            person = people[c.participant_id]
            before = earlier.get((c.participant_id, c.week))
            parts = [PRACTICE_WORDS.get(c.practice, "svarade")]
            if c.confidence is not None:
                parts.append(f"känner sig {c.confidence}/5 {LEVEL_FACES.get(c.confidence, '')} säker".replace("  ", " "))
                parts.append(_trend(c.confidence, before))
            if c.voice_notes:
                parts.append(f"{c.voice_notes} röstmeddelande{'n' if c.voice_notes > 1 else ''} till avstämningen")
            lines.add(owner[c.participant_id], CHECKINS, Line("checkin", person, ", ".join(parts), None, c.answered_at), (person.name, person.id))

    return {
        cid: Digest(cid, caseworkers[cid], day, start, end, tuple(
            Section(key, tuple(line for _, line in sorted(lines.by_section[cid][key], key=lambda item: _sortable(item[0]))))
            for key in (NEEDS_ACTION, APPOINTMENTS, ATTENDANCE, CHECKINS, JOINED)
        ))
        for cid in caseworkers
    }


def _sortable(order: Any) -> Any:
    # Orders mix datetimes, dates and strings only at the same position within one section.
    return tuple((0, value) if value is not None else (1, 0) for value in order) if isinstance(order, tuple) else order


def _trend(level: int, before: tuple[float, int] | None) -> str:
    if not before or not before[1]:
        return "inga svar de fyra veckorna före"
    mean = before[0]
    shown = f"{mean:.1f}".replace(".", ",")
    if level - mean >= 0.5:
        return f"säkrare än de fyra veckorna före (snitt {shown})"
    if mean - level >= 0.5:
        return f"mindre säker än de fyra veckorna före (snitt {shown})"
    return f"lika säker som de fyra veckorna före (snitt {shown})"


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


_WEEKDAYS = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")
_MONTHS = ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober", "november", "december")


def _day(day: date) -> str:
    return f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"


def _when(at: datetime, tz: Any, today: date) -> str:
    local = at.astimezone(tz)
    if local.date() == today:
        named = "idag"
    elif local.date() == today + timedelta(days=1):
        named = "imorgon"
    else:
        named = _day(local.date())
    return f"{named} kl. {local:%H:%M}"
