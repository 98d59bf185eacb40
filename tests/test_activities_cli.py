"""``stegvis activity ...`` run as a caseworker runs it: one JSON object per command, and the exact error for each bad input.

A SQLite file that holds caseworker 1 and participants 1 (active, Somali), 2 (invited) and 3
(stopped); the clock is frozen on Monday 4 January 2027 at 12:00 in Stockholm.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest

from tests import test_appointments_cli as appointments_cli
from tests.test_appointments_cli import as_json, error_of

NOW = "2027-01-04T12:00+01:00"
ADD = ("activity", "add", "--name", "Språkcafé", "--organisation", "Röda Korset", "--place", "Nygatan 19", "--weekly", "tue 10:00", "--weekly", "torsdag 13:30")


def stegvis(tmp_path: Path, *args: str, now: str = NOW) -> subprocess.CompletedProcess[str]:
    """``python -m bot`` as in the appointment CLI's tests, with the clock frozen at ``now``."""
    return appointments_cli.stegvis(tmp_path, *args, now=now)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("template")
    assert stegvis(folder, "caseworker", "add", "--name", "Karin Lund").returncode == 0
    for name in ("Hassan", "Zahra", "Dawit"):
        assert stegvis(folder, "participant", "add", "--name", name, "--caseworker", "1").returncode == 0
    with closing(sqlite3.connect(folder / "cli.sqlite3")) as connection, connection:
        connection.execute("UPDATE participants SET status = 'active', language = 'so', telegram_chat_id = 501 WHERE id = 1")
        connection.execute("UPDATE participants SET status = 'stopped' WHERE id = 3")
    assert stegvis(folder, *ADD, "--ends", "2027-06-11").returncode == 0
    return folder / "cli.sqlite3"


@pytest.fixture
def db(tmp_path: Path, template: Path) -> Path:
    shutil.copy(template, tmp_path / "cli.sqlite3")
    return tmp_path


def ok(tmp_path: Path, *args: str, now: str = NOW) -> dict:
    result = stegvis(tmp_path, *args, "--json", now=now)
    assert (result.returncode, result.stderr) == (0, ""), result.stdout + result.stderr
    return as_json(result)


def snapshot(tmp_path: Path) -> list:
    with closing(sqlite3.connect(tmp_path / "cli.sqlite3")) as connection:
        return [connection.execute(f"SELECT * FROM {table} ORDER BY id").fetchall() for table in ("activities", "activity_rules", "enrolments", "cancelled_sessions", "outbox", "events")]


def test_add_and_list_print_the_activity(db: Path) -> None:
    added = ok(db, "activity", "add", "--name", "Arbetsträning", "--organisation", "Stadsmissionen", "--place", "Café Hoppet", "--weekly", "Onsdag 09:00",
               "--duration", "1h30m", "--starts", "2027-01-11", "--on-holidays")
    assert added == {
        "id": 2, "name": "Arbetsträning", "organisation": "Stadsmissionen", "place": "Café Hoppet", "weekly": ["wed 09:00"], "duration_minutes": 90,
        "starts": "2027-01-11", "ends": None, "on_holidays": True, "enrolled": [],
    }
    listed = ok(db, "activity", "list")["activities"]
    assert [(a["id"], a["weekly"], a["duration_minutes"], a["starts"], a["ends"]) for a in listed] == [
        (1, ["tue 10:00", "thu 13:30"], 120, "2027-01-04", "2027-06-11"), (2, ["wed 09:00"], 90, "2027-01-11", None),
    ]
    human = stegvis(db, "activity", "list")
    assert human.returncode == 0 and "Activity 1: Språkcafé (Röda Korset) at Nygatan 19, tue 10:00 and thu 13:30 for 120 min" in human.stdout


def test_sessions_default_to_the_next_four_weeks_and_show_cancelled_ones(db: Path) -> None:
    listing = ok(db, "activity", "sessions", "1")
    assert (listing["from"], listing["to"], len(listing["sessions"])) == ("2027-01-04", "2027-01-31", 8)
    assert listing["sessions"][0] == {"date": "2027-01-05", "starts_at": "2027-01-05T10:00:00+01:00", "ends_at": "2027-01-05T12:00:00+01:00", "status": "planned", "reason": None}
    ok(db, "activity", "cancel-session", "1", "--date", "2027-01-12", "--reason", "Ledaren är sjuk")
    spring = ok(db, "activity", "sessions", "1", "--from", "2027-03-22", "--to", "2027-04-04")["sessions"]
    assert [(s["starts_at"], s["status"]) for s in spring] == [
        ("2027-03-23T10:00:00+01:00", "planned"), ("2027-03-25T13:30:00+01:00", "planned"), ("2027-03-30T10:00:00+02:00", "planned"), ("2027-04-01T13:30:00+02:00", "planned"),
    ]
    human = stegvis(db, "activity", "sessions", "1", "--from", "2027-01-11", "--to", "2027-01-17")
    assert human.stdout.splitlines()[-2:] == ["    tue 2027-01-12 10:00-12:00  CANCELLED: Ledaren är sjuk", "    thu 2027-01-14 13:30-15:30"]


def test_enrol_leave_and_cancel_session(db: Path) -> None:
    assert ok(db, "activity", "enrol", "1", "--participant", "1") == {"activity_id": 1, "participant_id": 1, "participant_status": "active", "from": "2027-01-04", "left": None}
    assert ok(db, "activity", "enrol", "1", "--participant", "2", "--from", "2027-01-18")["from"] == "2027-01-18"
    cancelled = ok(db, "activity", "cancel-session", "1", "--date", "2027-01-19")
    assert cancelled["notices"] == [{"participant_id": 1, "due_at": "2027-01-04T12:00:00+01:00"}]
    assert cancelled["not_told"] == [{"participant_id": 2, "why": "has not joined Stegvis yet"}]
    # In quiet hours the notice waits for the morning.
    evening = ok(db, "activity", "cancel-session", "1", "--date", "2027-01-21", now="2027-01-04T21:00+01:00")
    assert evening["notices"] == [{"participant_id": 1, "due_at": "2027-01-05T08:00:00+01:00"}]
    assert ok(db, "activity", "leave", "1", "--participant", "1", now="2027-01-20T09:00+01:00")["left"] == "2027-01-20"
    human = stegvis(db, "activity", "cancel-session", "1", "--date", "2027-01-26", now="2027-01-20T09:00+01:00")
    assert human.stdout == "Cancelled: tue 2027-01-26 10:00 of activity 1 (Språkcafé).\nNot told: participant 2 has not joined Stegvis yet; reach them another way\n"


REFUSED = [
    (("activity", "add", "--name", "X", "--organisation", "Y", "--place", "Z", "--weekly", "tuesday 25:00"), '--weekly: "25:00" is not a time; use HH:MM (24-hour clock), e.g. 10:30'),
    (("activity", "add", "--name", "X", "--organisation", "Y", "--place", "Z", "--weekly", "mon"), '--weekly: "mon" has no time; use a weekday and a time, e.g. "tue 10:00" or "torsdag 13:30"'),
    (("activity", "add", "--name", "X", "--organisation", "Y", "--place", "Z", "--weekly", "funday 10:00"), '--weekly: "funday" is not a weekday; use mon … sun or måndag … söndag, e.g. tue or tisdag'),
    (("activity", "add", "--name", "X", "--organisation", "Y", "--place", "Z", "--weekly", "tue 10:00", "--duration", "5m"), '--duration: "5m" is shorter than 15 minutes'),
    (("activity", "add", "--name", "X", "--organisation", "Y", "--place", "Z", "--weekly", "tue 10:00", "--duration", "13h"), '--duration: "13h" is longer than 12 hours'),
    (("activity", "add", "--name", "X", "--organisation", "Y", "--place", "Z", "--weekly", "tue 10:00", "--duration", "lång"), '--duration: "lång" is not a duration; use e.g. 90m, 2h or 1h30m'),
    (("activity", "add", "--name", " ", "--organisation", "Y", "--place", "Z", "--weekly", "tue 10:00"), "--name must not be empty"),
    (("activity", "add", "--name", "X", "--organisation", "Y", "--place", "Nygatan\u202e 19", "--weekly", "tue 10:00"), "--place contains a hidden text-direction character (U+202E); remove it"),
    (("activity", "add", "--name", "X", "--organisation", "Y", "--place", "Z", "--weekly", "tue 10:00", "--starts", "2027-02-30"), '--starts: "2027-02-30" is not a date; use YYYY-MM-DD, e.g. 2026-11-24'),
    (("activity", "add", "--name", "X", "--organisation", "Y", "--place", "Z", "--weekly", "tue 10:00", "--starts", "2027-03-01", "--ends", "2027-02-01"), "--ends: 2027-02-01 is before the first day, 2027-03-01"),
    (("activity", "add", "--name", "X", "--organisation", "Y", "--place", "Z", "--weekly", "tue 10:00", "--starts", "2030-01-01"), "--starts: 2030-01-01 is more than two years from now; check the year"),
    (("activity", "sessions", "9"), "no activity with id 9 (see: stegvis activity list)"),
    (("activity", "sessions", "1", "--from", "2027-02-01", "--to", "2027-01-01"), "--to: 2027-01-01 is before --from 2027-02-01"),
    (("activity", "enrol", "1", "--participant", "99"), "--participant: no participant with id 99 (see: stegvis participant list)"),
    (("activity", "enrol", "1", "--participant", "3"), "--participant: participant 3 has stopped messages from Stegvis (/stop); they cannot be enrolled"),
    (("activity", "enrol", "1", "--participant", "1", "--from", "2027-01-01"), "--from: 2027-01-01 is before activity 1 starts, on 2027-01-04"),
    (("activity", "leave", "1", "--participant", "2"), "--participant: participant 2 is not enrolled in activity 1"),
    (("activity", "cancel-session", "1", "--date", "2027-01-06"), "--date: 2027-01-06 is not a session day: activity 1 meets tue 10:00, thu 13:30; the nearest sessions are tue 2027-01-05 10:00 and thu 2027-01-07 13:30"),
    (("activity", "cancel-session", "1", "--date", "2027-05-06"), "--date: 2027-05-06 is not a session day: it is a holiday (Ascension Day) and activity 1 is not held on holidays; the nearest sessions are tue 2027-05-04 10:00 and tue 2027-05-11 10:00"),
    (("activity", "cancel-session", "1", "--date", "2027-01-12", "--reason", "sjuk\x07"), "--reason contains a control character (U+0007); remove it"),
]


@pytest.mark.parametrize(("args", "message"), REFUSED, ids=[" ".join(args[1:3]) + f"#{i}" for i, (args, _) in enumerate(REFUSED)])
def test_each_bad_input_gets_its_error_and_changes_nothing(db: Path, args: tuple[str, ...], message: str) -> None:
    before = snapshot(db)
    assert error_of(stegvis(db, *args, "--json")) == {"error": message}
    plain = stegvis(db, *args)
    assert (plain.returncode, plain.stdout, plain.stderr) == (2, "", f"stegvis: {message}\n")
    assert snapshot(db) == before


def test_enrolling_twice_and_cancelling_twice_are_conflicts(db: Path) -> None:
    ok(db, "activity", "enrol", "1", "--participant", "1")
    ok(db, "activity", "cancel-session", "1", "--date", "2027-01-12")
    before = snapshot(db)
    assert error_of(stegvis(db, "activity", "enrol", "1", "--participant", "1", "--json")) == {"error": "--participant: participant 1 is already enrolled in activity 1 since 2027-01-04"}
    assert error_of(stegvis(db, "activity", "cancel-session", "1", "--date", "2027-01-12", "--json")) == {"error": "--date: the session on 2027-01-12 of activity 1 is already cancelled"}
    assert snapshot(db) == before


def test_a_usage_error_is_one_json_object_too(db: Path) -> None:
    error = error_of(stegvis(db, "activity", "add", "--name", "X", "--json"))["error"]
    assert error.startswith("the following arguments are required: --organisation, --place, --weekly")
