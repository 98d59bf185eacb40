"""The roll call: leaders' labels and buttons (pure), recording attendance and planning the roll
call on real SQLite and PostgreSQL, the CLI's JSON and exit codes, and a leader's whole morning
over HTTP against the sandbox (linking, the roll call at the session's start, taps, Done,
re-opening, /rollcall, and every press that must change nothing)."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.features.activities import services as activities
from bot.features.activities.planning import plan_questions
from bot.features.activities.schedule import WeeklyRule
from bot.features.roll_call import router, services
from bot.features.roll_call.messages import SHEET, SUBJECT
from bot.features.roll_call.planning import plan_roll_calls
from bot.features.roll_call.sheet import COUNTS, DONE_BUTTON, EDIT_BUTTON, HEADING, Address, data, labels_for, next_mark, short_name
from bot.outbox.sender import Sender
from bot.scheduler import withdraw_stale
from bot.services import SYSTEM, Actor, Conflict, InvalidInput, NotFound
from bot.sandbox import SandboxUser, SentMessage
from locales import LANGUAGES, Catalogs
from locales.format import format_clock, format_day
from storage.clock import FrozenClock
from storage.database import Database
from storage.models import Attendance, Event, Leader, OutboxMessage, OutboxStatus, Participant, ParticipantStatus
from storage.repositories import invite_hash
from storage.roll_call import is_leader_code
from tests import test_appointments_cli as appointments_cli
from tests.harness import BotHarness, start_bot
from tests.test_appointments_cli import as_json, error_of
from tests.test_sender import World, world

TZ = ZoneInfo("Europe/Stockholm")
TUE, THU = 1, 3
TUESDAY = date(2027, 2, 9)  # a session of the language café at 10:00
CATALOGS = Catalogs()
KARIN = Actor("cli", "karin")


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def t(language: str, msgid: str, **values: object) -> str:
    return CATALOGS.texts(language).gettext(msgid, **values)


# ---- labels and buttons ------------------------------------------------------------------------


def test_a_leader_sees_first_name_and_initial_and_two_alike_get_a_number() -> None:
    assert short_name("Amina Yusuf Hassan") == "Amina H."
    assert short_name("Dawit") == "Dawit" and short_name("  ") == "?"
    assert labels_for({7: "Amina Yusuf", 3: "Amina Yasin", 9: "amina yilmaz", 4: "Sara Lind"}) == {
        3: "Amina Y.", 4: "Sara L.", 7: "Amina Y. (2)", 9: "amina Y.",
    }


def test_button_data_is_ids_only_and_fits_telegram() -> None:
    assert data(12, TUESDAY, 7) == "rc:12:9901:7"
    assert Address.parse("rc:12:9901:7") == Address(12, TUESDAY, "7") and Address(12, TUESDAY, "7").participant_id == 7
    assert Address.parse("rc:12:9901:d").what == "d" and Address.parse("rc:12:9901:o").participant_id is None
    for forged in ("rc:0:9901:7", "rc:12:x:7", "rc:12:9901:x", "rc:12:9901", "s:coming_today:ask:coming:12d9901", "", None, "rc:1:9999999:1", "rc:1:9901:07"):
        assert Address.parse(forged) is None, forged
    assert len(data(999_999_999, date(2999, 12, 31), 9_999_999_999).encode()) <= 64


def test_a_tap_goes_not_yet_present_absent_present() -> None:
    assert [next_mark(None), next_mark(True), next_mark(False)] == [True, False, True]


# ---- services on a real database -------------------------------------------------------------


async def call(w: World, service, actor: Actor = SYSTEM, **kwargs):  # type: ignore[no-untyped-def]
    async with w.database.sessions() as session:
        result = await service(session, actor, w.stegvis.settings, now=w.clock.now(), **kwargs)
        await session.commit()
    return result


async def cafe(w: World, *participants: int, **overrides: object) -> int:
    values: dict = {"name": "Språkcafé", "organisation": "Röda Korset", "place": "Nygatan 19", "weekly": [WeeklyRule(TUE, time(10))], "starts_on": date(2027, 1, 4)}
    values.update(overrides)
    aid = (await call(w, activities.add_activity, **values)).id
    for pid in participants:
        await call(w, activities.enrol, activity_id=aid, participant_id=pid, from_date=date(2027, 2, 1))
    return aid


async def rows(w: World, model: type) -> list:
    async with w.database.sessions() as session:
        return list(await session.scalars(select(model).order_by(model.id)))


async def test_attendance_is_recorded_corrected_in_place_and_each_change_is_an_event(database: Database) -> None:
    async with world(database, now=local(TUESDAY, 11)) as w:
        amina, dawit, outsider = await w.participant(), await w.participant(), await w.participant()
        aid = await cafe(w, amina.id, dawit.id)
        # Amina said she was not coming (her report); the roll call says she was there: both stay.
        async with w.database.sessions() as session:
            session.add(Event(type="activity_report", participant_id=amina.id, occurred_at=w.clock.now(), payload={"activity_id": aid, "date": "2027-02-09", "coming": False}))
            await session.commit()

        view = await call(w, services.record_attendance, KARIN, activity_id=aid, day=TUESDAY, present=[amina.id], absent=[dawit.id])
        assert view.as_json(TZ) == {
            "activity_id": aid, "activity": "Språkcafé", "date": "2027-02-09", "by": "cli:karin",
            "recorded": [{"participant_id": amina.id, "present": True, "previous": None}, {"participant_id": dawit.id, "present": False, "previous": None}],
        }
        w.clock.set(local(TUESDAY, 12))
        corrected = await call(w, services.record_attendance, KARIN, activity_id=aid, day=TUESDAY, present=[dawit.id], absent=[])
        assert [(r.participant_id, r.present, r.previous) for r in corrected.recorded] == [(dawit.id, True, False)]

        assert [(a.participant_id, a.present, a.recorded_by, a.recorded_at) for a in await rows(w, Attendance)] == [
            (amina.id, True, "cli:karin", local(TUESDAY, 11).astimezone(timezone.utc)),
            (dawit.id, True, "cli:karin", local(TUESDAY, 12).astimezone(timezone.utc)),  # the same row, changed
        ]
        events = [(e.type, e.participant_id, e.payload) for e in await rows(w, Event) if e.type != "activity_enrolled"]
        assert events == [
            ("activity_report", amina.id, {"activity_id": aid, "date": "2027-02-09", "coming": False}),
            ("attendance_recorded", amina.id, {"activity_id": aid, "date": "2027-02-09", "present": True, "by": "cli:karin"}),
            ("attendance_recorded", dawit.id, {"activity_id": aid, "date": "2027-02-09", "present": False, "by": "cli:karin"}),
            ("attendance_recorded", dawit.id, {"activity_id": aid, "date": "2027-02-09", "present": True, "by": "cli:karin"}),
        ]
        assert outsider.id not in {e[1] for e in events}


async def test_each_bad_attendance_is_refused_and_records_nothing(database: Database) -> None:
    async with world(database, now=local(TUESDAY, 11)) as w:
        amina, outsider = await w.participant(), await w.participant()
        aid = await cafe(w, amina.id)
        other = await cafe(w, amina.id, name="Bilda", weekly=[WeeklyRule(TUE, time(13))])
        await call(w, activities.cancel_session, activity_id=other, day=TUESDAY)
        cases = [
            ({"activity_id": 99, "day": TUESDAY, "present": [amina.id], "absent": []}, NotFound, "no activity with id 99 (see: stegvis activity list)"),
            ({"activity_id": aid, "day": TUESDAY + timedelta(days=1), "present": [amina.id], "absent": []}, InvalidInput, "2027-02-10 is not a session day: activity 1 meets tue 10:00"),
            ({"activity_id": aid, "day": TUESDAY + timedelta(days=7), "present": [amina.id], "absent": []}, Conflict, "the session tue 2027-02-16 10:00 has not begun yet"),
            ({"activity_id": other, "day": TUESDAY, "present": [amina.id], "absent": []}, Conflict, f"the session on 2027-02-09 of activity {other} was cancelled"),
            ({"activity_id": aid, "day": TUESDAY, "present": [outsider.id], "absent": []}, InvalidInput, f"participant {outsider.id} is not enrolled in activity {aid} on 2027-02-09"),
            ({"activity_id": aid, "day": TUESDAY, "present": [amina.id], "absent": [amina.id]}, InvalidInput, f"participant {amina.id} is named both --present and --absent"),
            ({"activity_id": aid, "day": TUESDAY, "present": [], "absent": []}, InvalidInput, "name at least one participant"),
        ]
        for kwargs, error, words in cases:
            with pytest.raises(error) as refused:
                await call(w, services.record_attendance, KARIN, **kwargs)
            assert refused.value.message.startswith(words), refused.value.message
        assert await rows(w, Attendance) == [] and [e for e in await rows(w, Event) if e.type == "attendance_recorded"] == []


async def test_the_roll_call_is_planned_once_per_leader_and_session_and_withdrawn_when_cancelled(database: Database) -> None:
    async with world(database, now=local(TUESDAY, 7)) as w:
        amina = await w.participant()
        aid = await cafe(w, amina.id)
        later = await cafe(w, amina.id, name="Bilda", weekly=[WeeklyRule(TUE, time(13)), WeeklyRule(THU, time(9))])
        nobody_leads = await cafe(w, amina.id, name="Gym")
        lena = await call(w, services.add_leader, name="Lena Berg", activity_ids=[aid, later])
        omar = await call(w, services.add_leader, name="Omar Ali", activity_ids=[aid])
        assert is_leader_code(lena.invite_code) and lena.invite_expires_at == w.clock.now() + timedelta(days=w.stegvis.settings.invite_days)
        async with w.database.sessions() as session:
            assert await plan_roll_calls(session, w.stegvis.settings, w.clock.now()) == 3
            assert await plan_roll_calls(session, w.stegvis.settings, w.clock.now()) == 0  # planning twice adds nothing
            await session.commit()
        planned = [(r.recipient_kind, r.recipient_id, r.subject_kind, r.subject_id, r.subject_version, r.composer, r.due_at) for r in await rows(w, OutboxMessage)]
        assert sorted(planned) == sorted([
            ("leader", lena.id, SUBJECT, aid, TUESDAY.toordinal(), SHEET, local(TUESDAY, 10).astimezone(timezone.utc)),
            ("leader", omar.id, SUBJECT, aid, TUESDAY.toordinal(), SHEET, local(TUESDAY, 10).astimezone(timezone.utc)),
            ("leader", lena.id, SUBJECT, later, TUESDAY.toordinal(), SHEET, local(TUESDAY, 13).astimezone(timezone.utc)),
        ])
        assert nobody_leads not in {p[3] for p in planned}
        # Bilda is cancelled: its roll call is withdrawn; the leaders have not linked Telegram, so
        # their roll calls stay pending until they do (or the day is over).
        await call(w, activities.cancel_session, activity_id=later, day=TUESDAY)
        assert await withdraw_stale(w.stegvis) == 1
        w.clock.set(local(TUESDAY, 10))
        await w.sender().tick()  # sends Amina the cancellation notice, and nothing to the leaders
        assert [r.status for r in await rows(w, OutboxMessage) if r.composer == SHEET and r.subject_id == aid] == [OutboxStatus.PENDING] * 2
        w.clock.set(local(TUESDAY + timedelta(days=1), 0, 5))
        assert await withdraw_stale(w.stegvis) == 2
        assert {(r.status, r.last_error) for r in await rows(w, OutboxMessage) if r.composer == SHEET} == {
            (OutboxStatus.CANCELLED, "withdrawn: the session was cancelled"), (OutboxStatus.CANCELLED, "withdrawn: the day is over"),
        }


# ---- the command line -------------------------------------------------------------------------


NOW = "2027-02-09T11:00+01:00"


def stegvis(tmp_path: Path, *args: str, now: str = NOW):  # type: ignore[no-untyped-def]
    return appointments_cli.stegvis(tmp_path, *args, now=now)


def ok(tmp_path: Path, *args: str) -> dict:
    result = stegvis(tmp_path, *args, "--json")
    assert (result.returncode, result.stderr) == (0, ""), result.stdout + result.stderr
    return as_json(result)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("template")
    assert stegvis(folder, "caseworker", "add", "--name", "Karin Lund").returncode == 0
    for name in ("Amina Yusuf", "Dawit Tesfaye", "Sara Lind"):
        assert stegvis(folder, "participant", "add", "--name", name, "--caseworker", "1").returncode == 0
    assert stegvis(folder, "activity", "add", "--name", "Språkcafé", "--organisation", "Röda Korset", "--place", "Nygatan 19", "--weekly", "tue 10:00", "--starts", "2027-01-04").returncode == 0
    for pid in ("1", "2"):
        assert stegvis(folder, "activity", "enrol", "1", "--participant", pid, "--from", "2027-01-04").returncode == 0
    return folder / "cli.sqlite3"


@pytest.fixture
def db(tmp_path: Path, template: Path) -> Path:
    shutil.copy(template, tmp_path / "cli.sqlite3")
    return tmp_path


def table(tmp_path: Path, name: str) -> list:
    with closing(sqlite3.connect(tmp_path / "cli.sqlite3")) as connection:
        return connection.execute(f"SELECT * FROM {name} ORDER BY 1").fetchall()


def test_leader_add_prints_an_invite_link_and_list_shows_them(db: Path) -> None:
    added = ok(db, "leader", "add", "--name", "Lena Berg", "--activity", "1")
    assert (added["leader_id"], added["name"], added["activities"], added["linked"]) == (1, "Lena Berg", [1], False)
    assert added["invite_code"].startswith("lead-") and added["link"] == f"https://t.me/stegvis_test_bot?start={added['invite_code']}" or added["link"] is None
    assert added["invite_expires_at"].startswith("2027-02-23")
    human = stegvis(db, "leader", "add", "--name", "Omar Ali", "--activity", "1")
    assert human.returncode == 0 and "Leader 2 (Omar Ali) added, leading activity 1. Personal invite link, valid until 2027-02-23" in human.stdout
    listed = ok(db, "leader", "list")["leaders"]
    assert [(leader["leader_id"], leader["linked"]) for leader in listed] == [(1, False), (2, False)]
    renewed = ok(db, "leader", "invite", "1")
    assert renewed["invite_code"] != added["invite_code"] and table(db, "leaders")[0][4] == invite_hash(renewed["invite_code"])  # only its hash is stored
    assert [leader["invite_code"] for leader in ok(db, "leader", "list")["leaders"]] == [None, None]  # a link is shown once, when made


def test_leader_add_refuses_an_unknown_activity_and_a_blank_name(db: Path) -> None:
    assert error_of(stegvis(db, "leader", "add", "--name", "Lena", "--activity", "7", "--json")) == {"error": "--activity: no activity with id 7 (see: stegvis activity list)"}
    assert error_of(stegvis(db, "leader", "add", "--name", " ", "--activity", "1", "--json"))["error"].startswith("--name ")
    assert error_of(stegvis(db, "leader", "add", "--name", "Lena", "--activity", "x", "--json"))["error"].startswith("argument --activity:")
    assert error_of(stegvis(db, "leader", "invite", "9", "--json")) == {"error": "no leader with id 9 (see: stegvis leader list)"}
    assert table(db, "leaders") == []


def test_activity_attendance_records_and_says_what_it_corrected(db: Path) -> None:
    first = ok(db, "activity", "attendance", "1", "--date", "2027-02-09", "--present", "1", "--absent", "2")
    assert [(r["participant_id"], r["present"]) for r in first["recorded"]] == [(1, True), (2, False)] and first["by"].startswith("cli:")
    human = stegvis(db, "activity", "attendance", "1", "--date", "2027-02-09", "--present", "2")
    assert human.returncode == 0
    assert human.stdout.splitlines()[1] == "Corrected: participant 2 was recorded absent before."
    assert [(row[3], row[4]) for row in table(db, "attendance")] == [(1, 1), (2, 1)]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("9", "--date", "2027-02-09", "--present", "1"), "no activity with id 9 (see: stegvis activity list)"),
        (("1", "--date", "2027-02-10", "--present", "1"), "--date: 2027-02-10 is not a session day: activity 1 meets tue 10:00; the nearest sessions are tue 2027-02-09 10:00 and tue 2027-02-16 10:00"),
        (("1", "--date", "2027-02-16", "--present", "1"), "--date: the session tue 2027-02-16 10:00 has not begun yet"),
        (("1", "--date", "9 feb", "--present", "1"), '--date: "9 feb" is not a date; use YYYY-MM-DD, e.g. 2026-11-24'),
        (("1", "--date", "2027-02-09", "--present", "3"), "--present: participant 3 is not enrolled in activity 1 on 2027-02-09"),
        (("1", "--date", "2027-02-09", "--absent", "3"), "--absent: participant 3 is not enrolled in activity 1 on 2027-02-09"),
        (("1", "--date", "2027-02-09", "--present", "1,2", "--absent", "2"), "--present: participant 2 is named both --present and --absent"),
        (("1", "--date", "2027-02-09", "--present", "1,,x"), "--present: '' is not a participant id; give ids separated by commas, e.g. 3,5"),
        (("1", "--date", "2027-02-09", "--present", "1;2"), "--present: '1;2' is not a participant id; give ids separated by commas, e.g. 3,5"),
        (("1", "--date", "2027-02-09"), "--present: name at least one participant with --present or --absent"),
    ],
)
def test_activity_attendance_refuses_bad_input_and_records_nothing(db: Path, args: tuple[str, ...], error: str) -> None:
    assert error_of(stegvis(db, "activity", "attendance", *args, "--json")) == {"error": error}
    without_json = stegvis(db, "activity", "attendance", *args)
    assert (without_json.returncode, without_json.stderr.strip()) == (2, f"stegvis: {error}")
    assert table(db, "attendance") == []


def test_a_cancelled_session_has_no_attendance(db: Path) -> None:
    assert stegvis(db, "activity", "cancel-session", "1", "--date", "2027-02-16", now="2027-02-10T09:00+01:00").returncode == 0
    refused = appointments_cli.stegvis(db, "activity", "attendance", "1", "--date", "2027-02-16", "--present", "1", "--json", now="2027-02-16T12:00+01:00")
    assert error_of(refused) == {"error": "--date: the session on 2027-02-16 of activity 1 was cancelled: there is no attendance to record"}


# ---- a leader's morning, over HTTP against the sandbox ----------------------------------------


@asynccontextmanager
async def morning(tmp_path: Path, database: Database) -> AsyncIterator[BotHarness]:
    async with start_bot(tmp_path, database=database, clock=FrozenClock(local(TUESDAY, 7))) as harness:
        yield harness



async def joined(harness: BotHarness, name: str, language: str = "sv") -> tuple[SandboxUser, int]:
    return await harness.joined(name, language)


async def service(harness: BotHarness, function, **kwargs):  # type: ignore[no-untyped-def]
    async with harness.database.sessions() as session:
        result = await function(session, SYSTEM, harness.stegvis.settings, now=harness.stegvis.clock.now(), **kwargs)
        await session.commit()
    return result


async def activity(harness: BotHarness, name: str, hour: int, *participants: int) -> int:
    aid = (await service(harness, activities.add_activity, name=name, organisation="Röda Korset", place="Nygatan 19", weekly=[WeeklyRule(TUE, time(hour))], starts_on=date(2027, 1, 4))).id
    for pid in participants:
        await service(harness, activities.enrol, activity_id=aid, participant_id=pid, from_date=date(2027, 2, 1))
    return aid


async def attendance(harness: BotHarness) -> list[tuple[int, int, bool, str]]:
    async with harness.database.sessions() as session:
        return [(a.activity_id, a.participant_id, a.present, a.recorded_by) for a in await session.scalars(select(Attendance).order_by(Attendance.id))]


async def tick(harness: BotHarness) -> None:
    async with harness.database.sessions() as session:
        await plan_questions(session, harness.stegvis.settings, harness.stegvis.clock.now())
        await plan_roll_calls(session, harness.stegvis.settings, harness.stegvis.clock.now())
        await session.commit()
    await Sender(harness.stegvis, harness.bot).tick()


async def test_a_leaders_roll_call_end_to_end(tmp_path: Path, database: Database) -> None:
    async with morning(tmp_path, database) as harness:
        amina, amina_id = await joined(harness, "Amina Yusuf")
        _yasin, yasin_id = await joined(harness, "Amina Yasin")
        _dawit, dawit_id = await joined(harness, "Dawit Tesfaye", "ti")
        _sara, sara_id = await joined(harness, "Sara Lind")
        cafe_id = await activity(harness, "Språkcafé", 10, amina_id, yasin_id, dawit_id)
        gym_id = await activity(harness, "Gym", 13, sara_id)
        music_id = await activity(harness, "Musik", 16, amina_id)
        lena = await service(harness, services.add_leader, name="Lena Berg", activity_ids=[cafe_id, music_id])
        omar = await service(harness, services.add_leader, name="Omar Ali", activity_ids=[gym_id])

        # Linking: Lena's Telegram is in Swedish, Omar's in Arabic.
        leader = harness.user(first_name="Lena", language_code="sv")
        await leader.send(f"/start {lena.invite_code}")
        welcome = await leader.next_reply()
        assert welcome.text == t("sv", router.WELCOME, name="Lena Berg", activities="Språkcafé, Musik")
        await harness.settle()
        assert harness.sandbox.commands[("chat", None)] == [{"command": "rollcall", "description": "Upprop"}]
        gym_leader = harness.user(first_name="Omar", language_code="ar")
        await gym_leader.send(f"/start {omar.invite_code}")
        await gym_leader.next_reply()
        async with harness.database.sessions() as session:
            linked = {row.id: (row.telegram_chat_id, row.language) for row in await session.scalars(select(Leader))}
        assert linked == {lena.id: (leader.id, "sv"), omar.id: (gym_leader.id, "ar")}

        # Amina says she is not coming (her report), at 08:00.
        harness.clock.set(local(TUESDAY, 8))
        await tick(harness)
        question = [m for m in amina.messages if m.buttons][-1]
        await amina.press("10:00 Nej", message=question)  # her two sessions today are one message, a row each
        await amina.next_reply()  # why?
        assert leader.messages == [welcome]  # the roll call comes at the session's start, not before

        # 10:00: Lena gets the café's roll call, once however often it is planned.
        harness.clock.set(local(TUESDAY, 10))
        await tick(harness)
        await tick(harness)
        sheet = await leader.next_reply()
        await harness.settle()
        assert len(leader.messages) == 2
        assert sheet.text.splitlines()[0] == t("sv", HEADING, activity="Språkcafé", time="10:00", day="tisdag 9 februari")
        assert sheet.button_texts == ["⬜ Amina Y.", "⬜ Amina Y. (2)", "⬜ Dawit T.", "Klar"]
        assert all(len(d.encode()) <= 64 and d.startswith("rc:") for row in sheet.buttons for _label, d in row)
        assert "Yusuf" not in sheet.text + "".join(sheet.button_texts)  # first name and initial only

        # Taps: not yet → here → not here → here, each stored at once.
        for expected in ("✅ Amina Y.", "❌ Amina Y.", "✅ Amina Y."):
            before = sheet.edit_date, sheet.button_texts
            await leader.press(sheet.button_texts[0], message=sheet)
            await leader.wait_for(lambda: sheet.button_texts[0] == expected, what=expected)
            assert before != (sheet.edit_date, sheet.button_texts)
        assert await attendance(harness) == [(cafe_id, amina_id, True, f"leader:{lena.id}")]
        recorded = [(e.participant_id, e.payload["present"]) for e in await harness.events() if e.type == "attendance_recorded"]
        assert recorded == [(amina_id, True), (amina_id, False), (amina_id, True)]

        # Done: everyone not marked is absent, and the message becomes a summary with "Ändra".
        await leader.press(t("sv", DONE_BUTTON), message=sheet)
        await leader.wait_for(lambda: sheet.button_texts == [t("sv", EDIT_BUTTON)], what="the summary")
        assert sheet.text.splitlines()[1:] == [t("sv", COUNTS, present=1, absent=2), "✅ Amina Y.", "❌ Amina Y. (2), Dawit T."]
        assert sorted(await attendance(harness)) == sorted([(cafe_id, pid, pid == amina_id, f"leader:{lena.id}") for pid in (amina_id, yasin_id, dawit_id)])
        # The roll call contradicts Amina's report: both are kept.
        amina_events = [(e.type, e.payload.get("coming", e.payload.get("present"))) for e in await harness.events(amina_id) if e.type in ("activity_report", "attendance_recorded")]
        assert amina_events[0] == ("activity_report", False) and amina_events[-1] == ("attendance_recorded", True)

        # Ändra re-opens it with what was recorded; a correction is stored in place.
        await leader.press(t("sv", EDIT_BUTTON), message=sheet)
        await leader.wait_for(lambda: sheet.button_texts[-1] == "Klar", what="the sheet again")
        assert sheet.button_texts == ["✅ Amina Y.", "❌ Amina Y. (2)", "❌ Dawit T.", "Klar"]
        await leader.press("❌ Dawit T.", message=sheet)
        await leader.wait_for(lambda: "✅ Dawit T." in sheet.button_texts, what="Dawit present")

        # /rollcall, later: today's sessions, and opening one shows what was recorded.
        harness.clock.set(local(TUESDAY, 17))
        await leader.send("/rollcall")
        listing = await leader.next_reply()
        assert listing.text == t("sv", router.LIST)
        assert listing.button_texts == [
            "⬜ Musik · tisdag 9 februari 16:00", "✅ Språkcafé · tisdag 9 februari 10:00",  # newest first; ✅ when everyone is marked
            "⬜ Musik · tisdag 2 februari 16:00", "⬜ Språkcafé · tisdag 2 februari 10:00",  # last week's, never taken
        ]
        await leader.press(1, message=listing)
        await leader.wait_for(lambda: listing.button_texts[-1] == "Klar", what="the opened roll call")
        assert listing.button_texts == ["✅ Amina Y.", "❌ Amina Y. (2)", "✅ Dawit T.", "Klar"]

        # Anything else typed by a leader: a short help, never the participants' flows.
        await leader.send("hej")
        assert (await leader.next_reply()).text == t("sv", router.HELP)
        await leader.send("/start")
        assert (await leader.next_reply()).text == t("sv", router.HELP)

        # Omar (Gym) presses a button of the café's roll call: refused in Arabic, nothing changes.
        before = await attendance(harness)
        await gym_leader.send("/rollcall")
        gym_listing = await gym_leader.next_reply()
        assert len(gym_listing.button_texts) == 2 and all(label.startswith("⬜ Gym · ") for label in gym_listing.button_texts)
        for forged in (data(cafe_id, TUESDAY, amina_id), data(cafe_id, TUESDAY, "d"), data(cafe_id, TUESDAY, "o")):
            refused = await gym_leader.press_data(forged, message=gym_listing)
            assert (refused.text, refused.show_alert) == (t("ar", router.NOT_YOURS), True) and t("ar", router.NOT_YOURS) != router.NOT_YOURS
        # Lena's own activity, but: a participant of another activity, a forged button, an old
        # or a future day, a cancelled session, a participant's button.
        harness.clock.set(local(TUESDAY, 14))
        await service(harness, activities.cancel_session, activity_id=music_id, day=TUESDAY)
        bad = [
            (data(cafe_id, TUESDAY, sara_id), router.NOT_ENROLLED),
            (data(cafe_id, TUESDAY, 999), router.NOT_ENROLLED),
            ("rc:x", router.BROKEN),
            ("rc:1:2:3:4", router.BROKEN),
            (data(cafe_id, TUESDAY - timedelta(days=14), amina_id), router.TOO_OLD),
            (data(cafe_id, TUESDAY + timedelta(days=7), amina_id), router.BROKEN),
            (data(cafe_id, TUESDAY - timedelta(days=1), amina_id), router.BROKEN),  # a Monday: no session
            (data(music_id, TUESDAY, amina_id), router.CANCELLED),
            (data(gym_id, TUESDAY, sara_id), router.NOT_YOURS),
            ("s:coming_today:ask:coming:1d9901", router.BROKEN),
        ]
        for forged, why in bad:
            assert (await leader.press_data(forged, message=sheet)).text == t("sv", why), forged
        # A participant, and someone Stegvis does not know, press a roll-call button.
        assert (await amina.press_data(data(cafe_id, TUESDAY, amina_id), message=question)).text == t("sv", router.NOT_A_LEADER)
        stranger = harness.user(first_name="Ali")
        await stranger.send("hej")
        hello = await stranger.next_reply()
        assert t("sv", router.NOT_A_LEADER) in (await stranger.press_data(data(cafe_id, TUESDAY, amina_id), message=hello)).text
        await harness.settle()
        assert await attendance(harness) == before


async def test_linking_refuses_used_expired_unknown_codes_and_a_participants_chat(tmp_path: Path, database: Database) -> None:
    async with morning(tmp_path, database) as harness:
        amina, amina_id = await joined(harness, "Amina Yusuf", "so")
        cafe_id = await activity(harness, "Språkcafé", 10, amina_id)
        lena = await service(harness, services.add_leader, name="Lena Berg", activity_ids=[cafe_id])
        late = await service(harness, services.add_leader, name="Omar Ali", activity_ids=[cafe_id])

        # A participant's chat cannot become a leader's: told in their language, nothing changes.
        await amina.send(f"/start {lena.invite_code}")
        assert (await amina.next_reply()).text == t("so", router.PARTICIPANT_CHAT) != router.PARTICIPANT_CHAT
        first = harness.user(first_name="Lena")
        await first.send(f"/start {lena.invite_code}")
        await first.next_reply()
        # Used by someone else; an unknown leader code; an expired one; the same chat for a second leader.
        other = harness.user(first_name="Someone")
        await other.send(f"/start {lena.invite_code}")
        assert t("sv", router.LINK_REFUSED["used"]) in (await other.next_reply()).text
        await other.send("/start lead-nosuchcodeatall")
        assert "Länken fungerar inte. Be om en ny." in (await other.next_reply()).text
        harness.clock.set(local(TUESDAY, 7) + timedelta(days=harness.stegvis.settings.invite_days, minutes=1))
        await other.send(f"/start {late.invite_code}")
        assert t("sv", router.LINK_REFUSED["expired"]) in (await other.next_reply()).text
        renewed = await service(harness, services.new_invite, leader_id=late.id)
        await first.send(f"/start {renewed.invite_code}")
        assert t("sv", router.LINK_REFUSED["chat_taken"]) in (await first.next_reply()).text
        # Lena's own link again in her own chat: she is welcomed, nothing else.
        await first.send(f"/start {lena.invite_code}")
        assert (await first.next_reply()).text.startswith("Hej Lena Berg!")
        # A participant's invite opened in a leader's chat does not make it a participant's.
        code = await harness.invite("Sara Lind")
        await first.send(f"/start {code}")
        assert (await first.next_reply()).text == t("sv", router.HELP)
        await harness.settle()
        async with harness.database.sessions() as session:
            leaders = {row.id: row.telegram_chat_id for row in await session.scalars(select(Leader))}
            sara = await session.get(Participant, harness.participant_id(code))
        assert leaders == {lena.id: first.id, late.id: None}
        assert sara is not None and sara.telegram_chat_id is None and sara.status == ParticipantStatus.INVITED
        assert (await harness.participant(amina_id)).telegram_chat_id == amina.id


async def test_a_linked_leader_gets_the_roll_call_in_quiet_hours_in_their_language(database: Database) -> None:
    # A session at 07:30, in the night's quiet hours (until 08:00): participants would wait, a leader does not.
    async with world(database, now=local(TUESDAY, 6), quiet_hours="20:00-08:00") as w:
        amina, dawit = await w.participant(), await w.participant()
        aid = await cafe(w, amina.id, dawit.id, weekly=[WeeklyRule(TUE, time(7, 30))])
        lena = await call(w, services.add_leader, name="Lena Berg", activity_ids=[aid])
        async with w.database.sessions() as session:
            leader = await session.get(Leader, lena.id)
            leader.telegram_chat_id, leader.language = 777_001, "so"  # as linking stores them
            await session.commit()
        w.sandbox.user(777_001, "Lena", "so")
        async with w.database.sessions() as session:
            assert await plan_roll_calls(session, w.stegvis.settings, w.clock.now()) == 1
            await session.commit()
        assert await w.sender().tick() == 0  # not before the session's start
        w.clock.set(local(TUESDAY, 7, 30))
        assert await w.sender().tick() == 1
        [text] = w.delivered(777_001)
        so, starts = LANGUAGES["so"], local(TUESDAY, 7, 30)
        assert text.splitlines()[0] == t("so", HEADING, activity="Språkcafé", time=format_clock(starts, so, TZ), day=format_day(starts, so, TZ))
        assert text.splitlines()[0] != t("sv", HEADING, activity="Språkcafé", time="07:30", day="tisdag 9 februari")
        sent = [e for e in await rows(w, Event) if e.type == "roll_call_sent"]
        assert [(e.participant_id, e.payload["leader_id"], e.payload["activity_id"], e.payload["date"]) for e in sent] == [(None, lena.id, aid, "2027-02-09")]
        assert w.delivered(amina.telegram_chat_id) == []  # participants get nothing from the roll call
