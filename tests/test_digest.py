"""The caseworker's daily digest, checked line by line against rows and events written straight into the tables.

The day with everything is Thursday 28 January 2027 in Stockholm (CET): its window runs from
Wednesday 27 January 07:30 (06:30 UTC) to Thursday 07:30. Karin (caseworker 1) has Hassan,
Zahra, Dawit, Amina, Faduma, Omar and Sara; Per (caseworker 2) has another Hassan Ali and
Zahra Noor, with the same kinds of events, none of which may appear in Karin's digest.
"""

from __future__ import annotations

import html
import json
import shutil
import sqlite3
import subprocess
from contextlib import closing
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from markupsafe import escape

from bot.config import Settings, load_settings
from bot.features.digest import render
from bot.features.digest.content import build_digest, build_digests, window
from bot.services import NotFound
from storage.database import Database
from storage.models import Activity, ActivityRule, Appointment, Attendance, Caseworker, CheckIn, Enrolment, Event, OutboxMessage, Participant
from tests import test_appointments_cli as appointments_cli
from tests.test_appointments_cli import as_json, error_of

TZ = ZoneInfo("Europe/Stockholm")
DAY = date(2027, 1, 28)
NOW = datetime(2027, 1, 28, 6, 30, tzinfo=timezone.utc)  # Thursday 07:30 in Stockholm
LONG_AGO = datetime(2026, 6, 1, tzinfo=timezone.utc)
HASSAN, ZAHRA, DAWIT, AMINA, FADUMA, OMAR, SARA = 1, 2, 3, 4, 5, 6, 7
OTHER_HASSAN, OTHER_ZAHRA = 11, 12


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), TZ).astimezone(timezone.utc)


def settings_for(database: Database, **extra: Any) -> Settings:
    return load_settings(database_url=database.engine.url.render_as_string(hide_password=False), timezone="Europe/Stockholm", **extra)


class Filler:
    def __init__(self) -> None:
        self.rows: list[Any] = []

    def caseworker(self, cid: int, name: str) -> None:
        self.rows.append(Caseworker(id=cid, name=name, email=None, created_at=LONG_AGO))

    def participant(self, pid: int, name: str, language: str, cid: int = 1, *, status: str = "active", created: datetime = LONG_AGO) -> None:
        self.rows.append(Participant(id=pid, name=name, caseworker_id=cid, language=language, status=status, telegram_chat_id=1000 + pid, created_at=created, updated_at=created))

    def event(self, type_: str, pid: int, at: datetime, **payload: Any) -> None:
        self.rows.append(Event(type=type_, participant_id=pid, occurred_at=at, payload=payload))

    def appointment(self, aid: int, pid: int, starts: datetime, answer: str | None, answered: datetime | None, title: str | None = None) -> None:
        self.rows.append(Appointment(id=aid, participant_id=pid, starts_at=starts, place="Storgatan 1", title=title, status="booked", answer=answer, answered_at=answered, created_at=LONG_AGO, updated_at=LONG_AGO))

    def activity(self, aid: int, name: str, weekday: int) -> None:
        self.rows.append(Activity(id=aid, name=name, organisation="Röda Korset", place="Nygatan 19", duration_minutes=120, starts_on=date(2026, 9, 1), ends_on=None, on_holidays=False, created_at=LONG_AGO, updated_at=LONG_AGO))
        self.rows.append(ActivityRule(activity_id=aid, weekday=weekday, local_time=time(10)))

    def enrol(self, aid: int, pid: int) -> None:
        self.rows.append(Enrolment(activity_id=aid, participant_id=pid, from_date=date(2026, 9, 1), left_date=None, created_at=LONG_AGO, updated_at=LONG_AGO))

    def roll_call(self, aid: int, day: date, pid: int, present: bool) -> None:
        self.rows.append(Attendance(activity_id=aid, local_date=day, participant_id=pid, present=present, recorded_by="leader:1", recorded_at=local(day, 12)))

    def said(self, aid: int, day: date, pid: int, coming: bool, reason: str | None = None, text: str | None = None) -> None:
        ids = {"activity_id": aid, "date": day.isoformat()}
        self.event("activity_report", pid, local(day, 8), **ids, answer="coming" if coming else "not_coming", coming=coming)
        if reason:
            self.event("activity_report", pid, local(day, 8, 1), **ids, answer=reason, reason=reason)
        if text:
            self.event("activity_report", pid, local(day, 8, 2), **ids, text=text)

    def checkin(self, pid: int, week: date, *, confidence: int | None, practice: str | None = "a_lot", answered: datetime | None = None, voice_notes: int = 0) -> None:
        sent = local(week + timedelta(days=2), 11)
        self.rows.append(CheckIn(participant_id=pid, week=week, sent_at=sent, nudged_at=None, answered_at=answered or sent + timedelta(hours=1), unanswered_at=None, practice=practice, places=None, confidence=confidence, voice_notes=voice_notes))

    def failed(self, oid: int, pid: int, at: datetime) -> None:
        self.rows.append(OutboxMessage(id=oid, idempotency_key=f"k{oid}", recipient_kind="participant", recipient_id=pid, channel="telegram", composer="appointment_reminder", slot="1d", payload={}, due_at=at, status="failed", attempts=5, created_at=at, last_error="Bad Request"))
        self.event("message_failed", pid, at, outbox_id=oid, composer="appointment_reminder", subject=None, error="Bad Request", attempts=5)

    async def write(self, database: Database) -> None:
        async with database.sessions() as session:
            for kind in (Caseworker, Participant, Activity, ActivityRule, Enrolment, Appointment, Attendance, OutboxMessage, Event, CheckIn):
                session.add_all([row for row in self.rows if isinstance(row, kind)])
                await session.flush()
            await session.commit()


WED, WED_BEFORE = date(2027, 1, 27), date(2027, 1, 20)
START = local(WED, 7, 30)


def everything(f: Filler, cid: int = 1, base: int = 0, name: str = "Karin Lund") -> None:
    """One caseworker's participants and the window's events; `base` moves the ids for a second caseworker."""
    f.caseworker(cid, name)
    p = {k: base + k for k in range(1, 8)}
    f.participant(p[HASSAN], "Hassan Ali", "ar", cid)
    f.participant(p[ZAHRA], "Zahra Noor", "so", cid)
    f.participant(p[DAWIT], "Dawit Tesfay", "ti", cid)
    f.participant(p[AMINA], "Amina Yusuf", "fa_AF", cid, status="stopped")
    f.participant(p[FADUMA], "Faduma Ahmed", "sv", cid, status="unreachable")
    f.participant(p[OMAR], "Omar Said", "ar", cid)
    f.participant(p[SARA], "Sara Berg", "sv", cid, created=local(WED, 10))
    # (1) needs action. Hassan said on Tuesday he cannot come today at 14:00, sick, in his words:
    f.appointment(base + 1, p[HASSAN], local(DAY, 14), "cant_come", local(date(2027, 1, 26), 9), title="Uppföljning")
    f.event("appointment_answer", p[HASSAN], local(date(2027, 1, 26), 9), answer="cant_come", appointment_id=base + 1, version=1)
    f.event("appointment_decline_reason", p[HASSAN], local(date(2027, 1, 26), 9, 1), answer="sick", appointment_id=base + 1, version=1)
    f.event("appointment_decline_note", p[HASSAN], local(date(2027, 1, 26), 9, 2), text="عندي حمى", appointment_id=base + 1, version=1)
    # Zahra asked for a new time for tomorrow's meeting, in the window.
    f.appointment(base + 2, p[ZAHRA], local(DAY + timedelta(days=1), 9), "new_time", local(WED, 10))
    # ... and for a meeting in twelve days, beyond tomorrow: found by her answer in the window.
    f.appointment(base + 4, p[ZAHRA], local(date(2027, 2, 9), 10), "new_time", local(WED, 10, 5))
    f.event("appointment_answer", p[ZAHRA], local(WED, 10, 5), answer="new_time", appointment_id=base + 4, version=1)
    # Omar has a meeting tomorrow afternoon, not answered yet; a cancelled one is never shown.
    f.appointment(base + 3, p[OMAR], local(DAY + timedelta(days=1), 15, 30), None, None)
    # Dawit wrote and sent a voice note; a message before the window is not shown.
    f.event("participant_message", p[DAWIT], local(WED, 7, 29), text="för tidigt", language="ti")
    f.event("participant_message", p[DAWIT], local(WED, 15), text="ሰላም፣ ነገ ክመጽእ ኣይክእልን", language="ti")
    f.event("participant_message", p[DAWIT], local(WED, 15, 5), voice={"file_id": "AwAD", "duration": 7}, language="ti")
    f.event("participant_stopped", p[AMINA], local(WED, 18))
    f.event("participant_unreachable", p[FADUMA], local(WED, 19))
    f.failed(base + 1, p[FADUMA], local(WED, 19))
    # Omar was asked three times in the last week and answered nothing: quiet.
    for days in (6, 4, 2):
        f.event("activity_question_sent", p[OMAR], NOW - timedelta(days=days), activity_id=base + 1, date=(DAY - timedelta(days=days)).isoformat())
    # (3) Språkcafé on Wednesdays: Hassan there, Zahra away with a reason and a few words, Omar
    # away without a word for the second time in a row.
    f.activity(base + 1, "Språkcafé", 2)
    for who in (HASSAN, ZAHRA, OMAR):
        f.enrol(base + 1, p[who])
    f.roll_call(base + 1, WED_BEFORE, p[OMAR], False)
    f.roll_call(base + 1, WED_BEFORE, p[HASSAN], True)
    f.roll_call(base + 1, WED, p[HASSAN], True)
    f.roll_call(base + 1, WED, p[ZAHRA], False)
    f.roll_call(base + 1, WED, p[OMAR], False)
    f.said(base + 1, WED, p[ZAHRA], False, "child_sick", "Wiilkaygu waa jiran yahay")
    f.said(base + 1, WED, p[HASSAN], True)
    # (4) check-ins of week 4 (Monday 25 January): Hassan surer than before, Dawit for the first time.
    for weeks_back, level in ((4, 2), (3, 2), (2, 3), (1, 3)):
        f.checkin(p[HASSAN], date(2027, 1, 25) - timedelta(weeks=weeks_back), confidence=level, answered=local(date(2027, 1, 25) - timedelta(weeks=weeks_back), 13))
    f.checkin(p[HASSAN], date(2027, 1, 25), confidence=4, answered=local(WED, 13), voice_notes=1)
    f.checkin(p[DAWIT], date(2027, 1, 25), confidence=2, practice="not_this_week", answered=local(WED, 14))
    # (5) Sara joined in the window.
    f.event("consent", p[SARA], local(WED, 11), answer="agreed", notice_version="2026-11")


EXPECTED_TEXT = """Stegvis: sammanfattning torsdag 28 januari 2027 för Karin Lund

Behöver åtgärd:
  - Hassan Ali (id 1): kan inte komma till Uppföljning idag kl. 14:00 (orsak: sjuk): «\u2068عندي حمى\u2069» (på arabiska)
  - Zahra Noor (id 2): vill ha en ny tid för möte imorgon kl. 09:00
  - Zahra Noor (id 2): vill ha en ny tid för möte tisdag 9 februari kl. 10:00
  - Dawit Tesfay (id 3): skrev till dig: «\u2068ሰላም፣ ነገ ክመጽእ ኣይክእልን\u2069» (på tigrinja)
  - Dawit Tesfay (id 3): skickade ett röstmeddelande (7 s) på tigrinja; lyssna i Telegram
  - Amina Yusuf (id 4): sa /stop: får inga meddelanden från Stegvis längre
  - Faduma Ahmed (id 5): går inte att nå: har blockerat Stegvis i Telegram
  - Faduma Ahmed (id 5): ett meddelande (appointment_reminder) kunde inte skickas efter 5 försök
  - Omar Said (id 6): har inte svarat på något på 7 dagar (3 frågor)
  - Omar Said (id 6): frånvarande utan att säga till två gånger i rad i Språkcafé (onsdag 20 januari och onsdag 27 januari)
  Svara: stegvis reply --participant ID --with call-you|stays-booked|come-to-office|noted|new-time, eller --text "…"

Möten idag och imorgon:
  - Hassan Ali (id 1): Uppföljning idag kl. 14:00, Storgatan 1: kan inte komma
  - Zahra Noor (id 2): möte imorgon kl. 09:00, Storgatan 1: vill ha en ny tid
  - Omar Said (id 6): möte imorgon kl. 15:30, Storgatan 1: inget svar än

Närvaro sedan förra sammanfattningen:
  Språkcafé (aktivitet 1): 1 närvarande, 2 frånvarande
  - Omar Said (id 6): frånvarande onsdag 27 januari (Språkcafé): sa inte till
  - Zahra Noor (id 2): frånvarande onsdag 27 januari (Språkcafé): barnet sjukt: «\u2068Wiilkaygu waa jiran yahay\u2069» (på somaliska)

Avstämningar om språkträning:
  - Dawit Tesfay (id 3): har inte övat den här veckan, känner sig 2/5 🙁 säker, inga svar de fyra veckorna före
  - Hassan Ali (id 1): har övat mycket, känner sig 4/5 🙂 säker, säkrare än de fyra veckorna före (snitt 2,5), 1 röstmeddelande till avstämningen

Nya deltagare:
  - Sara Berg (id 7): gick med i Stegvis (språk: svenska)"""


@pytest.fixture
async def filled(database: Database) -> Database:
    f = Filler()
    everything(f)
    everything(f, cid=2, base=10, name="Per Holm")  # the same names, ids 11-17: never in Karin's digest
    await f.write(database)
    return database


async def digest_of(database: Database, cid: int = 1, day: date = DAY, **extra: Any) -> Any:
    settings = settings_for(database, **extra)
    async with database.sessions() as session:
        return await build_digest(session, settings, caseworker_id=cid, day=day, now=NOW), settings


async def test_a_day_with_everything_line_by_line(filled: Database) -> None:
    digest, settings = await digest_of(filled)
    assert (digest.window_start, digest.window_end) == (START, NOW)
    assert render.render_text(digest, settings) == EXPECTED_TEXT
    shown = render.render_json(digest, settings)
    assert [s["key"] for s in shown["sections"]] == ["needs_action", "appointments", "attendance", "checkins", "joined"]
    kinds = [line["kind"] for line in shown["sections"][0]["lines"]]
    assert kinds == ["declined", "new_time", "new_time", "message", "voice", "stopped", "unreachable", "failed", "quiet", "absent_twice"]
    assert shown["sections"][0]["lines"][3]["quote"] == {"text": "ሰላም፣ ነገ ክመጽእ ኣይክእልን", "language": "ti"}


async def test_the_other_caseworker_sees_only_their_own_participants_with_the_same_names(filled: Database) -> None:
    mine, settings = await digest_of(filled, 1)
    theirs, _ = await digest_of(filled, 2)
    ids = lambda d: {line.participant.id for s in d.sections for line in s.lines if line.participant}  # noqa: E731
    assert ids(mine) == {1, 2, 3, 4, 5, 6, 7}
    assert ids(theirs) == {11, 12, 13, 14, 15, 16, 17}
    # Per's text is Karin's with his ids: nothing of one crosses into the other.
    expected = EXPECTED_TEXT.replace("Karin Lund", "Per Holm").replace("aktivitet 1)", "aktivitet 11)")
    for k in range(7, 0, -1):
        expected = expected.replace(f"(id {k})", f"(id {10 + k})")
    assert render.render_text(theirs, settings) == expected
    async with filled.sessions() as session:
        both = await build_digests(session, settings, [1, 2], DAY, NOW)
    assert render.render_text(both[1], settings) == EXPECTED_TEXT and ids(both[2]) == ids(theirs)


async def test_a_day_with_nothing_is_one_line_or_nothing(filled: Database) -> None:
    # Friday 29 January: nothing happened between Thursday and Friday 07:30 but Zahra's and Omar's meetings today.
    f = Filler()
    f.caseworker(3, "Lena Ek")
    f.participant(30, "Ali Hassan", "ar", 3)
    await f.write(filled)
    digest, settings = await digest_of(filled, 3)
    assert digest.empty
    assert render.render_text(digest, settings) == "Stegvis: sammanfattning torsdag 28 januari 2027 för Lena Ek\nInget nytt om dina deltagare sedan förra sammanfattningen."
    assert render.render_telegram(digest, settings) == [render.TelegramMessage("<b>Stegvis: sammanfattning torsdag 28 januari 2027 för Lena Ek</b>\nInget nytt om dina deltagare sedan förra sammanfattningen.")]
    assert render.render_json(digest, settings)["empty"] is True
    nothing = settings_for(filled, digest_empty="nothing")
    assert (render.render_text(digest, nothing), render.render_telegram(digest, nothing)) == ("", [])


async def test_an_unknown_caseworker_is_not_found(filled: Database) -> None:
    with pytest.raises(NotFound, match="no caseworker with id 99"):
        await digest_of(filled, 99)


NASTY = [
    '<script>alert("x")</script>',
    '<b>fet</b> <a href="tg://user?id=1">länk</a> &amp; <tg-spoiler>x</tg-spoiler>',
    "**fet** _kursiv_ [länk](http://example.com) `kod`",
    "\u202eمرحبا\u200f abc \u200e",
    "a" * 4000,
    "😀🎉👍🏽",
]


async def test_a_participants_words_appear_exactly_as_written_and_harmless_in_every_format(database: Database) -> None:
    f = Filler()
    f.caseworker(1, "Karin Lund")
    f.participant(1, "Dawit <b>Tesfay</b>", "ti")
    for minute, text in enumerate(NASTY):
        f.event("participant_message", 1, local(WED, 12, minute), text=text, language="ti")
    await f.write(database)
    digest, settings = await digest_of(database)
    text = render.render_text(digest, settings)
    page = render.render_html(digest, settings)
    messages = [m.text for m in render.render_telegram(digest, settings)]
    email = render.render_email(digest, settings)
    shown = render.render_json(digest, settings)
    assert [line["quote"]["text"] for line in shown["sections"][0]["lines"]] == NASTY
    for words in NASTY:
        assert f"«\u2068{words}\u2069»" in text
        assert str(escape(words)) in page and str(escape(words)) in email.html  # Jinja2's autoescape
        assert any(html.escape(words) in message for message in messages)
    for rendered in (page, email.html, *messages):
        assert "<script>" not in rendered and "<tg-spoiler>" not in rendered and "<b>Tesfay" not in rendered
    assert all(len(message) <= 4096 for message in messages) and len(messages) >= 2
    assert json.loads(json.dumps(shown, ensure_ascii=False)) == shown


async def test_email_shows_first_names_and_ids_only_and_says_where_to_read_the_rest(filled: Database) -> None:
    digest, settings = await digest_of(filled)
    email = render.render_email(digest, settings)
    assert email.subject == "Stegvis: sammanfattning torsdag 28 januari 2027 för Karin Lund"
    for surname in ("Ali", "Noor", "Tesfay", "Yusuf", "Ahmed", "Said", "Berg"):
        assert f" {surname} (id" not in email.text and f" {surname} (id" not in email.html
    assert "Hassan (id 1): kan inte komma till Uppföljning idag kl. 14:00" in email.text
    assert "Hela sammanfattningen, med fullständiga namn: stegvis digest show" in email.text and "Hela sammanfattningen" in email.html
    full = render.render_email(digest, settings_for(filled, digest_email_full_names=True))
    assert "Hassan Ali (id 1)" in full.text and "Hassan Ali (id 1)" in full.html and "Hela sammanfattningen" not in full.text


async def test_two_hundred_participants_fit_in_telegram_messages_cut_at_line_boundaries(database: Database) -> None:
    f = Filler()
    f.caseworker(1, "Karin Lund")
    for pid in range(1, 201):
        f.participant(pid, f"Deltagare {pid:03}", "sv")
        f.event("participant_message", pid, local(WED, 9) + timedelta(seconds=pid), text=f"Hej, det är nummer {pid} <3", language="sv")
    await f.write(database)
    digest, settings = await digest_of(database)
    lines = digest.sections[0].lines
    assert [line.participant.id for line in lines] == list(range(1, 201))
    messages = render.render_telegram(digest, settings)
    assert all(len(m.text) <= 4096 for m in messages)
    # The first twenty get a message each with their quick replies; the rest are listed together.
    answerable = render.MAX_REPLY_MESSAGES
    assert [m.replies_for for m in messages[:answerable]] == list(range(1, answerable + 1))
    assert messages[0].text.startswith("<b>Stegvis: sammanfattning") and "<b>Behöver åtgärd</b>" in messages[0].text
    assert all(m.replies_for is None for m in messages[answerable:]) and len(messages) > answerable + 1
    assert render.MORE_TO_ANSWER in messages[-1].text
    sent = "\n".join(m.text for m in messages).splitlines()
    person_lines = [line for line in sent if line.startswith("• ")]
    assert person_lines == [f"• <b>Deltagare {pid:03} (id {pid})</b>: skrev till dig: «\u2068Hej, det är nummer {pid} &lt;3\u2069» (på svenska)" for pid in range(1, 201)]
    assert len(render.render_text(digest, settings).splitlines()) == 1 + 2 + 200 + 1  # and how to reply


@pytest.mark.parametrize(
    ("day", "first", "last"),
    [
        (date(2027, 2, 1), datetime(2027, 1, 29, 6, 30), datetime(2027, 2, 1, 6, 30)),  # Monday after a Friday
        (date(2027, 3, 30), datetime(2027, 3, 25, 6, 30), datetime(2027, 3, 30, 5, 30)),  # after Easter (Good Friday, Easter Monday) and the spring DST night
        (date(2027, 3, 29), datetime(2027, 3, 25, 6, 30), datetime(2027, 3, 29, 5, 30)),  # Easter Monday itself, shown on the CLI
        (date(2027, 11, 1), datetime(2027, 10, 29, 5, 30), datetime(2027, 11, 1, 6, 30)),  # after the autumn DST night
        (date(2027, 1, 7), datetime(2027, 1, 5, 6, 30), datetime(2027, 1, 7, 6, 30)),  # the day after Epiphany (6 January)
        (date(2026, 12, 28), datetime(2026, 12, 23, 6, 30), datetime(2026, 12, 28, 6, 30)),  # after Christmas Eve and Christmas
    ],
)
async def test_the_window_runs_from_the_previous_working_day_at_the_digest_time(database: Database, day: date, first: datetime, last: datetime) -> None:
    settings = settings_for(database)
    assert window(settings, day) == (first.replace(tzinfo=timezone.utc), last.replace(tzinfo=timezone.utc))


async def test_a_window_across_a_holiday_and_the_dst_night_has_exactly_its_events(database: Database) -> None:
    f = Filler()
    f.caseworker(1, "Karin Lund")
    f.participant(1, "Hassan Ali", "ar")
    start, end = datetime(2027, 3, 25, 6, 30, tzinfo=timezone.utc), datetime(2027, 3, 30, 5, 30, tzinfo=timezone.utc)
    for at, text in ((start - timedelta(seconds=1), "före"), (start, "först"), (datetime(2027, 3, 28, 1, 30, tzinfo=timezone.utc), "under natten"), (end - timedelta(seconds=1), "sist"), (end, "efter")):
        f.event("participant_message", 1, at, text=text, language="ar")
    await f.write(database)
    digest, _ = await digest_of(database, day=date(2027, 3, 30))
    assert [line.quote.text for line in digest.sections[0].lines] == ["först", "under natten", "sist"]
    later, _ = await digest_of(database, day=date(2027, 3, 31))
    assert [line.quote.text for line in later.sections[0].lines] == ["efter"]


async def test_a_later_digest_time_moves_the_window(database: Database) -> None:
    settings = settings_for(database, digest_time="09:15")
    assert window(settings, DAY) == (local(WED, 9, 15), local(DAY, 9, 15))


# --- the command line ----------------------------------------------------------------------------

CLI_NOW = "2027-01-28T07:30+01:00"


def stegvis(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return appointments_cli.stegvis(folder, *args, now=CLI_NOW)


@pytest.fixture(scope="module")
def cli_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("digest")
    assert stegvis(folder, "caseworker", "add", "--name", "Karin Lund").returncode == 0
    assert stegvis(folder, "participant", "add", "--name", "Dawit Tesfay", "--caseworker", "1").returncode == 0
    with closing(sqlite3.connect(folder / "cli.sqlite3")) as connection, connection:
        connection.execute(
            "INSERT INTO events (type, participant_id, occurred_at, payload) VALUES ('participant_message', 1, '2027-01-27 12:00:00', ?)",
            (json.dumps({"text": "<i>Hej</i> från Dawit", "language": "ti"}),),
        )
    return folder / "cli.sqlite3"


@pytest.fixture
def cli(tmp_path: Path, cli_template: Path) -> Path:
    shutil.copy(cli_template, tmp_path / "cli.sqlite3")
    return tmp_path


def test_digest_show_prints_today_as_text_html_and_json(cli: Path) -> None:
    done = stegvis(cli, "digest", "show", "--caseworker", "1")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == (
        "Stegvis: sammanfattning torsdag 28 januari 2027 för Karin Lund\n\nBehöver åtgärd:\n"
        "  - Dawit Tesfay (id 1): skrev till dig: «\u2068<i>Hej</i> från Dawit\u2069» (på tigrinja)\n"
        f"  {render.REPLY_HINT}\n"
    )
    page = stegvis(cli, "digest", "show", "--caseworker", "1", "--format", "html")
    assert page.returncode == 0 and "&lt;i&gt;Hej&lt;/i&gt; från Dawit" in page.stdout and "<i>Hej" not in page.stdout
    shown = json.loads(stegvis(cli, "digest", "show", "--caseworker", "1", "--format", "json", "--date", "2027-01-28").stdout)
    assert shown["sections"][0]["lines"][0]["quote"] == {"text": "<i>Hej</i> från Dawit", "language": "ti"}
    assert as_json(stegvis(cli, "digest", "show", "--caseworker", "1", "--json"))["window"] == {"from": "2027-01-27T06:30:00+00:00", "to": "2027-01-28T06:30:00+00:00"}
    empty = stegvis(cli, "digest", "show", "--caseworker", "1", "--date", "2027-01-29")
    assert empty.stdout.splitlines()[-1] == "Inget nytt om dina deltagare sedan förra sammanfattningen."


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("--caseworker", "99"), "--caseworker: no caseworker with id 99 (see: stegvis caseworker list)"),
        (("--caseworker", "1", "--date", "2027-13-01"), '--date: "2027-13-01" is not a date; use YYYY-MM-DD'),
        (("--caseworker", "1", "--date", "tomorrow"), '--date: "tomorrow" is not a date; use YYYY-MM-DD'),
        (("--caseworker", "1", "--format", "pdf"), "--format must be text, html or json, not 'pdf'"),
        (("--caseworker", "x"), "argument --caseworker: \"x\" is not an id; use a whole number"),
    ],
)
def test_digest_show_refuses_bad_input_with_exit_2(cli: Path, args: tuple[str, ...], error: str) -> None:
    assert error_of(stegvis(cli, "digest", "show", *args, "--json"))["error"].startswith(error)
    plain = stegvis(cli, "digest", "show", *args)
    assert plain.returncode == 2 and plain.stdout == ""
