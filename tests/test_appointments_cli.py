"""``stegvis appointment ...``: one JSON object per command, and the exact error for each bad input.

The commands run as a caseworker runs them (``python -m bot`` in a subprocess) against a SQLite
file that already holds caseworker 1 and participants 1 and 2 (both invited: they have not joined
yet). The clock is frozen at NOW (``STEGVIS_FROZEN_TIME``), so nothing depends on today's date:
every good time is in 2030, within the two years ahead that a booking may be, and every past
one is in 2020.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOW = "2029-06-01T12:00+02:00"  # the commands' "now": nothing may be booked after 2031-06-01 12:00
HEADER = "participant_id,date,time,place,title,remind"
BIG = "9" * 20  # more than any id a database can hold (SQLite's integers have 64 bits)


def stegvis(tmp_path: Path, *args: str, now: str = NOW) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "STEGVIS_DATABASE_URL": f"sqlite:///{tmp_path}/cli.sqlite3",
        "STEGVIS_TIMEZONE": "Europe/Stockholm",
        "STEGVIS_QUIET_HOURS": "20:00-08:00",
        "STEGVIS_REMINDER_LEAD_TIMES": "3d,1d",
        "STEGVIS_FROZEN_TIME": now,
    }
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=60)


def as_json(result: subprocess.CompletedProcess[str]) -> dict:
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout + result.stderr  # exactly one JSON object
    return json.loads(lines[0])


def error_of(result: subprocess.CompletedProcess[str]) -> dict:
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr == ""  # with --json everything is in the one object: no traceback, no warning
    return as_json(result)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("template")
    assert stegvis(folder, "caseworker", "add", "--name", "Karin Lund").returncode == 0
    for name in ("Hassan", "Zahra"):
        assert stegvis(folder, "participant", "add", "--name", name, "--caseworker", "1").returncode == 0
    return folder / "cli.sqlite3"


@pytest.fixture
def db(tmp_path: Path, template: Path) -> Path:
    """A fresh copy of the template database in this test's folder."""
    shutil.copy(template, tmp_path / "cli.sqlite3")
    return tmp_path


def book(tmp_path: Path, *extra: str, at: str = "2030-11-26T10:30") -> dict:
    result = stegvis(tmp_path, "appointment", "add", "--participant", "1", "--at", at, "--place", "Nygatan 19", *extra, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    return as_json(result)


def write_csv(tmp_path: Path, content: str | bytes, name: str = "bookings.csv") -> str:
    data = content.encode("utf-8") if isinstance(content, str) else content
    (tmp_path / name).write_bytes(data)
    return name


def import_refused(tmp_path: Path, *rows: str) -> dict:
    """The JSON error of importing a file of these rows under the full header (no line break after the last)."""
    name = write_csv(tmp_path, "\n".join([HEADER, *rows]))
    return error_of(stegvis(tmp_path, "appointment", "import", name, "--json"))


def listed(tmp_path: Path) -> list[dict]:
    return as_json(stegvis(tmp_path, "appointment", "list", "--json"))["appointments"]


def set_status(tmp_path: Path, participant_id: int, status: str) -> None:
    """What joining (active), /stop (stopped) or blocking the bot (unreachable) leaves in the database."""
    with closing(sqlite3.connect(tmp_path / "cli.sqlite3")) as connection, connection:
        connection.execute("UPDATE participants SET status = ? WHERE id = ?", (status, participant_id))


def said(result: subprocess.CompletedProcess[str]) -> str:
    """What a command without --json told the caseworker."""
    assert (result.returncode, result.stderr) == (0, ""), result.stdout + result.stderr
    return result.stdout


# The good path


def test_add_prints_the_appointment_with_local_times_and_its_reminders(db: Path):
    booked = book(db, "--title", "Uppföljning", "--remind", "3d", "--remind", "2h")
    assert booked == {
        "id": 1,
        "participant_id": 1,
        "participant_status": "invited",
        "starts_at": "2030-11-26T10:30:00+01:00",
        "place": "Nygatan 19",
        "title": "Uppföljning",
        "version": 1,
        "status": "booked",
        "lead_times": ["3d", "2h"],
        "answer": None,
        "answered_at": None,
        "attended": None,
        "reminders": [
            {"lead": "3d", "due_at": "2030-11-23T10:30:00+01:00", "status": "pending", "version": 1, "immediate": False},
            {"lead": "2h", "due_at": "2030-11-26T08:30:00+01:00", "status": "pending", "version": 1, "immediate": False},
        ],
        "notices": [],
    }


def test_move_cancel_and_list_each_print_one_json_object(db: Path):
    book(db)
    moved = as_json(stegvis(db, "appointment", "move", "1", "--at", "2030-11-28T14:00", "--json"))
    assert (moved["version"], moved["starts_at"]) == (2, "2030-11-28T14:00:00+01:00")
    assert [(r["version"], r["status"]) for r in moved["reminders"]] == [(1, "cancelled"), (1, "cancelled"), (2, "pending"), (2, "pending")]
    assert [(n["kind"], n["version"], n["due_at"]) for n in moved["notices"]] == [("moved", 2, "2029-06-01T12:00:00+02:00")]  # at once: NOW

    cancelled = as_json(stegvis(db, "appointment", "cancel", "1", "--json"))
    assert cancelled["status"] == "cancelled"
    assert {n["kind"]: n["status"] for n in cancelled["notices"]} == {"moved": "cancelled", "cancelled": "pending"}

    assert [a["status"] for a in listed(db)] == ["cancelled"]


def test_list_without_json_is_a_table_in_local_time(db: Path):
    book(db, "--title", "Uppföljning")
    result = stegvis(db, "appointment", "list", "--participant", "1")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "participant", "starts", "(Europe/Stockholm)", "status", "answer", "came", "place"]
    assert lines[1].split() == ["1", "1", "2030-11-26", "10:30", "booked", "-", "-", "Nygatan", "19"]
    assert lines[2].strip() == "messages: 3d 2030-11-23 10:30 pending · 1d 2030-11-25 10:30 pending"


def test_a_booking_exactly_two_years_ahead_is_accepted(db: Path):
    assert book(db, at="2031-06-01T12:00")["starts_at"] == "2031-06-01T12:00:00+02:00"


def test_a_line_break_in_a_place_or_title_is_folded_into_one_line(db: Path):
    result = stegvis(db, "appointment", "add", "--participant", "1", "--at", "2030-11-26T10:30", "--place", "Nygatan 19\nentré B", "--title", "Uppföljning\r\nmed tolk", "--json")
    booked = as_json(result)
    assert (booked["place"], booked["title"]) == ("Nygatan 19 entré B", "Uppföljning med tolk")


# What the caseworker is told about reaching the participant

# For each status of participant 1: the end of what `add` says, and what `move` and `cancel` say
# about the notice. Whoever has not joined, said /stop or blocked Stegvis gets nothing now; their
# messages stay pending (tests/test_appointments.py shows they are never claimed meanwhile).
REACH = {
    "active": ("", "The participant is told at 2029-06-01 12:00."),
    "invited": (
        "\nParticipant 1 has not joined Stegvis yet: nothing is sent until they open their invite link and agree to the privacy notice;"
        " the reminders wait for that, and any still due then go out when they join.",
        "Participant 1 has not joined Stegvis yet: nothing is sent until they open their invite link and agree to the privacy notice; tell them another way.",
    ),
    "stopped": (
        "\nParticipant 1 has stopped messages from Stegvis (/stop): nothing is sent to them;"
        " the reminders wait, and any still due then go out if they send /start again.",
        "Participant 1 has stopped messages from Stegvis (/stop): nothing is sent to them; tell them another way.",
    ),
    "unreachable": (
        "\nParticipant 1 has blocked Stegvis in Telegram: nothing can be sent to them;"
        " the reminders wait, and any still due then go out if they unblock Stegvis.",
        "Participant 1 has blocked Stegvis in Telegram: nothing can be sent to them; tell them another way.",
    ),
}


@pytest.mark.parametrize("status", list(REACH))
def test_add_move_and_cancel_say_whether_and_when_the_participant_hears_of_it(db: Path, status: str):
    waiting, told = REACH[status]
    set_status(db, 1, status)

    assert said(stegvis(db, "appointment", "add", "--participant", "1", "--at", "2030-11-26T10:30", "--place", "Nygatan 19")) == (
        "Appointment 1 for participant 1: 2030-11-26 10:30, Nygatan 19. Booked.\n"
        f"Reminders (Europe/Stockholm): 3d 2030-11-23 10:30 pending · 1d 2030-11-25 10:30 pending{waiting}\n"
    )
    assert said(stegvis(db, "appointment", "move", "1", "--at", "2030-11-28T14:00")) == (
        "Appointment 1 for participant 1: 2030-11-28 14:00, Nygatan 19. Moved (version 2); the old reminders are withdrawn.\n"
        f"{told}\n"
        "Messages (Europe/Stockholm): 3d 2030-11-25 14:00 pending · 1d 2030-11-27 14:00 pending · moved notice 2029-06-01 12:00 pending\n"
    )
    (moved,) = listed(db)
    assert moved["participant_status"] == status
    assert [(m["version"], m["lead"], m["status"]) for m in moved["reminders"]] == [(1, "3d", "cancelled"), (1, "1d", "cancelled"), (2, "3d", "pending"), (2, "1d", "pending")]
    assert [(m["kind"], m["version"], m["status"]) for m in moved["notices"]] == [("moved", 2, "pending")]

    assert said(stegvis(db, "appointment", "cancel", "1")) == (
        "Appointment 1 for participant 1: 2030-11-28 14:00, Nygatan 19. Cancelled; reminders not yet sent are withdrawn.\n"
        f"{told}\n"
    )
    (cancelled,) = listed(db)
    assert [m["status"] for m in cancelled["reminders"]] == ["cancelled"] * 4
    assert [(m["kind"], m["version"], m["status"]) for m in cancelled["notices"]] == [("moved", 2, "cancelled"), ("cancelled", 2, "pending")]


def test_a_good_csv_imports_every_row(db: Path):
    name = write_csv(db, "\ufeff" + "\n".join([
        HEADER,
        '1,2030-11-26,10:30,"Nygatan 19, plan 2",Uppföljning,3d 1d',
        "2,2030-11-27,09:00,Skäggetorp centrum,,",
        '1,2030-12-03,13:15,Stadsmissionen,"Hoppfull framtid",2h',
    ]) + "\n")

    result = as_json(stegvis(db, "appointment", "import", name, "--json"))

    assert result["imported"] == 3
    assert [(a["participant_id"], a["starts_at"], a["place"], a["title"], a["lead_times"]) for a in result["appointments"]] == [
        (1, "2030-11-26T10:30:00+01:00", "Nygatan 19, plan 2", "Uppföljning", ["3d", "1d"]),
        (2, "2030-11-27T09:00:00+01:00", "Skäggetorp centrum", None, ["3d", "1d"]),
        (1, "2030-12-03T13:15:00+01:00", "Stadsmissionen", "Hoppfull framtid", ["2h"]),
    ]
    assert len(listed(db)) == 3


def test_a_csv_without_the_optional_columns_imports_too(db: Path):
    name = write_csv(db, "participant_id,date,time,place\r\n2,2030-11-27,09:00,Skäggetorp centrum\r\n")
    assert as_json(stegvis(db, "appointment", "import", name, "--json"))["imported"] == 1


def test_a_csv_with_one_bad_row_among_good_ones_imports_nothing(db: Path):
    assert import_refused(db, "1,2030-11-26,10:30,Nygatan 19,,", "2,2030-11-27,9.00,Skäggetorp centrum,,", "1,2030-12-03,13:15,Stadsmissionen,,") == {
        "error": "bookings.csv: nothing was imported: 1 of 3 rows have problems",
        "problems": ['line 3: time: "9.00" is not a time; use HH:MM (24-hour clock), e.g. 10:30'],
    }
    assert listed(db) == []


def test_every_bad_row_is_reported_in_file_order(db: Path):
    assert import_refused(db, "x,2030-11-26,10:30,,,", "", "2,2030-13-01,10:30,Nygatan 19,,5x")["problems"] == [
        'line 2: participant_id: "x" is not a participant id; use the number from: stegvis participant list',
        "line 2: place: must not be empty",
        'line 4: date: "2030-13-01" is not a date; use YYYY-MM-DD, e.g. 2026-11-24',
        'line 4: remind: bad lead time "5x": use a number followed by d, h or m, e.g. 3d or 2h',
    ]


def test_every_row_more_than_two_years_ahead_is_reported(db: Path):
    rows = ["1,2031-06-01,12:00,Nygatan 19,,", "2,2031-06-01,12:01,Nygatan 19,,", "1,2031-06-02,09:00,Skäggetorp centrum,,", "2,2036-01-07,10:30,Nygatan 19,,"]
    assert import_refused(db, *rows) == {
        "error": "bookings.csv: nothing was imported: 3 of 4 rows have problems",
        "problems": [
            "line 3: date: 2031-06-01 12:01 is more than two years from now; check the year",
            "line 4: date: 2031-06-02 09:00 is more than two years from now; check the year",
            "line 5: date: 2036-01-07 10:30 is more than two years from now; check the year",
        ],
    }
    assert listed(db) == []


def test_a_line_break_in_a_quoted_csv_cell_is_folded_into_one_line(db: Path):
    name = write_csv(db, f'{HEADER}\n1,2030-11-26,10:30,"Nygatan 19\nentré B","Uppföljning\r\nmed tolk",\n')
    (imported,) = as_json(stegvis(db, "appointment", "import", name, "--json"))["appointments"]
    assert (imported["place"], imported["title"]) == ("Nygatan 19 entré B", "Uppföljning med tolk")


def test_line_numbers_count_blank_lines_and_quoted_line_breaks(db: Path):
    assert import_refused(db, '1,2030-11-26,10:30,"Nygatan 19', 'entré B",,', "", "1,2030-11-27,10:30,Nygatan 19,,0d")["problems"] == [
        'line 5: remind: bad lead time "0d": must be more than zero, e.g. 3d or 2h',
    ]


def test_import_problems_without_json_go_to_stderr_one_per_line(db: Path):
    name = write_csv(db, f"{HEADER}\n1,2030-11-26,10:30,Nygatan 19,,\n1,2030-11-26,10:30,Nygatan 19,,\n")
    result = stegvis(db, "appointment", "import", name)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "stegvis: bookings.csv: nothing was imported: 1 of 2 rows have problems\n"
        "  line 3: duplicate: same participant and time as line 2 (participant 1, 2030-11-26 10:30)\n"
    )


# Each kind of bad CSV


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        (["abc,2030-11-26,10:30,Nygatan 19,,"], 'line 3: participant_id: "abc" is not a participant id; use the number from: stegvis participant list'),
        ([",2030-11-26,10:30,Nygatan 19,,"], "line 3: participant_id: must not be empty"),
        ([f"{BIG},2030-11-26,10:30,Nygatan 19,,"], f'line 3: participant_id: "{BIG}" is too large to be a participant id; use the number from: stegvis participant list'),
        (["9,2030-11-26,10:30,Nygatan 19,,"], "line 3: participant_id: no participant with id 9"),
        (["1,26/11/2030,10:30,Nygatan 19,,"], 'line 3: date: "26/11/2030" is not a date; use YYYY-MM-DD, e.g. 2026-11-24'),
        (["1,2030-02-30,10:30,Nygatan 19,,"], 'line 3: date: "2030-02-30" is not a date; use YYYY-MM-DD, e.g. 2026-11-24'),
        (["1,,10:30,Nygatan 19,,"], "line 3: date: must not be empty"),
        (["1,2030-11-26,25:00,Nygatan 19,,"], 'line 3: time: "25:00" is not a time; use HH:MM (24-hour clock), e.g. 10:30'),
        (["1,2030-11-26,,Nygatan 19,,"], "line 3: time: must not be empty"),
        (["1,2030-03-31,02:30,Nygatan 19,,"], "line 3: time: 2030-03-31 02:30 does not exist in Europe/Stockholm: the clocks go forward that night; pick another time"),
        (["1,2030-10-27,02:30,Nygatan 19,,"], "line 3: time: 2030-10-27 02:30 happens twice in Europe/Stockholm: the clocks go back that night; pick another time"),
        (["1,2020-01-07,10:30,Nygatan 19,,"], "line 3: date: 2020-01-07 10:30 is in the past"),
        (["1,2031-06-01,12:01,Nygatan 19,,"], "line 3: date: 2031-06-01 12:01 is more than two years from now; check the year"),
        (["1,9999-12-31,23:59,Nygatan 19,,"], "line 3: date: 9999-12-31 23:59 is more than two years from now; check the year"),
        (["1,2030-11-26,10:30, ,,"], "line 3: place: must not be empty"),
        ([f"1,2030-11-26,10:30,{'x' * 201},,"], "line 3: place: is longer than 200 characters"),
        (['1,2030-11-26,10:30,"Nygatan\x0019",,'], "line 3: place: contains a control character (U+0000); remove it"),
        (["1,2030-11-26,10:30,Nygatan 19\u202e,,"], "line 3: place: contains a hidden text-direction character (U+202E); remove it"),
        ([f"1,2030-11-26,10:30,Nygatan 19,{'y' * 201},"], "line 3: title: is longer than 200 characters"),
        (["1,2030-11-26,10:30,Nygatan 19,Uppf\x00ljning,"], "line 3: title: contains a control character (U+0000); remove it"),
        (["1,2030-11-26,10:30,Nygatan 19,\u202eUppföljning,"], "line 3: title: contains a hidden text-direction character (U+202E); remove it"),
        (["1,2030-11-26,10:30,Nygatan 19,,3x"], 'line 3: remind: bad lead time "3x": use a number followed by d, h or m, e.g. 3d or 2h'),
        (["1,2030-11-26,10:30,Nygatan 19,,90d"], 'line 3: remind: bad lead time "90d": must be at most 60 days (60d)'),
        (["1,2030-11-26,10:30,Nygatan 19,Uppföljning"], "line 3: has 5 fields but the header has 6"),
        (["1,2030-11-26,10:30,Nygatan 19, plan 2,Uppföljning,"], "line 3: has 7 fields but the header has 6 (a place or title with a comma must be in double quotes)"),
        (["2,2030-11-27,09:00,Nygatan 19,,"], "line 3: duplicate: same participant and time as line 2 (participant 2, 2030-11-27 09:00)"),
    ],
    ids=[
        "participant-not-a-number", "participant-empty", "participant-too-large", "participant-unknown", "date-format", "date-impossible",
        "date-empty", "time-format", "time-empty", "time-in-dst-gap", "time-repeated-by-dst", "in-the-past", "more-than-two-years-ahead",
        "in-year-9999", "place-empty", "place-too-long", "place-nul", "place-bidi", "title-too-long", "title-nul", "title-bidi",
        "remind-bad", "remind-too-long", "too-few-fields", "too-many-fields", "duplicate-row",
    ],
)
def test_a_bad_csv_row_gets_its_exact_problem(db: Path, rows: list[str], problem: str):
    assert import_refused(db, "2,2030-11-27,09:00,Skäggetorp centrum,,", *rows) == {
        "error": "bookings.csv: nothing was imported: 1 of 2 rows have problems",
        "problems": [problem],
    }


def test_a_csv_row_already_booked_in_the_database_is_a_duplicate(db: Path):
    book(db)
    name = write_csv(db, f"{HEADER}\n1,2030-11-26,10:30,Nygatan 19,,\n")
    assert error_of(stegvis(db, "appointment", "import", name, "--json"))["problems"] == [
        "line 2: duplicate: participant 1 already has appointment 1 at 2030-11-26 10:30"
    ]


HEADER_ERROR = "bookings.csv: nothing was imported: the header is not right"


@pytest.mark.parametrize(
    ("header", "problems"),
    [
        ("participant_id,time,place,title,remind", ['line 1: header: missing column "date"']),
        ("participant_id,date,time,place,title,remind,notes", ['line 1: header: unknown column "notes"; the columns are participant_id,date,time,place,title,remind']),
        ("participant_id,date,time,plats,title,remind", ['line 1: header: unknown column "plats"; did you mean "place"?', 'line 1: header: missing column "place"']),
        ("participant_id,date,time,place,title,title", ['line 1: header: column "title" appears twice']),
        ("participant_id;date;time;place;title;remind", ['line 1: header: the columns are separated by ";"; save the file with commas ("CSV UTF-8 (comma delimited)") and the header participant_id,date,time,place,title,remind']),
        ("1,2030-11-26,10:30,Nygatan 19,,", ['line 1: header: the first line must be the header participant_id,date,time,place,title,remind, not "1,2030-11-26,10:30,Nygatan 19,,"']),
    ],
    ids=["missing-column", "extra-column", "misspelled-column", "repeated-column", "semicolons", "no-header"],
)
def test_a_bad_csv_header_gets_its_exact_problem(db: Path, header: str, problems: list[str]):
    name = write_csv(db, f"{header}\n1,2030-11-26,10:30,Nygatan 19,,\n")
    assert error_of(stegvis(db, "appointment", "import", name, "--json")) == {"error": HEADER_ERROR, "problems": problems}


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"", "bookings.csv: the file is empty; the first line must be the header: participant_id,date,time,place,title,remind"),
        (b"\xef\xbb\xbf\n\n", "bookings.csv: the file is empty; the first line must be the header: participant_id,date,time,place,title,remind"),
        (f"{HEADER}\n".encode(), "bookings.csv: has a header but no appointments"),
        (f"{HEADER}\n1,2030-11-26,10:30,Sk\xe4ggetorp,,\n".encode("latin-1"), 'bookings.csv: is not UTF-8 text (line 2 has a byte UTF-8 does not allow); in Excel use Save As "CSV UTF-8 (comma delimited)"'),
    ],
    ids=["empty", "only-a-bom-and-blank-lines", "header-only", "not-utf8"],
)
def test_an_unusable_csv_file_gets_one_clear_error(db: Path, content: bytes, error: str):
    name = write_csv(db, content)
    assert error_of(stegvis(db, "appointment", "import", name, "--json")) == {"error": error}


def test_a_csv_with_an_unclosed_quote_names_its_line(db: Path):
    name = write_csv(db, f'{HEADER}\n1,2030-11-26,10:30,"Nygatan 19,,\n')
    assert error_of(stegvis(db, "appointment", "import", name, "--json")) == {
        "error": "bookings.csv: nothing was imported: the file is not valid CSV",
        "problems": ["line 2: cannot be read as CSV: unexpected end of data"],
    }


def test_importing_a_missing_file_says_so(db: Path):
    assert error_of(stegvis(db, "appointment", "import", "nowhere.csv", "--json")) == {"error": "nowhere.csv: no such file"}


# Each kind of bad command-line input

ADD = ["appointment", "add", "--participant", "1", "--place", "Nygatan 19"]
AT_FORM = "use YYYY-MM-DDTHH:MM in local time (Europe/Stockholm), e.g. 2026-11-24T10:30"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ([*ADD, "--at", "26/11/2030 10:30"], f'--at: "26/11/2030 10:30" is not a date and time; {AT_FORM}'),
        ([*ADD, "--at", "2030-11-26"], f'--at: "2030-11-26" is not a date and time; {AT_FORM}'),
        ([*ADD, "--at", "2030-11-31T10:30"], '--at: "2030-11-31" is not a date; use YYYY-MM-DD, e.g. 2026-11-24'),
        ([*ADD, "--at", "2030-11-26T24:30"], '--at: "24:30" is not a time; use HH:MM (24-hour clock), e.g. 10:30'),
        ([*ADD, "--at", "2020-01-07T10:30"], "--at: 2020-01-07 10:30 is in the past"),
        ([*ADD, "--at", "2030-03-31T02:30"], "--at: 2030-03-31 02:30 does not exist in Europe/Stockholm: the clocks go forward that night; pick another time"),
        ([*ADD, "--at", "2030-10-27T02:30"], "--at: 2030-10-27 02:30 happens twice in Europe/Stockholm: the clocks go back that night; pick another time"),
        ([*ADD, "--at", "2031-06-01T12:01"], "--at: 2031-06-01 12:01 is more than two years from now; check the year"),
        ([*ADD, "--at", "2031-06-01T10:01Z"], "--at: 2031-06-01 12:01 is more than two years from now; check the year"),
        ([*ADD, "--at", "9999-12-31T23:59-14:00"], "--at: 9999-12-31 23:59 is too far in the future; check the year"),
        ([*ADD, "--at", "0001-01-01T00:00+14:00"], "--at: 0001-01-01 00:00 is too far in the past; check the year"),
        (["appointment", "add", "--participant", "9", "--place", "Nygatan 19", "--at", "2030-11-26T10:30"], "--participant: no participant with id 9 (see: stegvis participant list)"),
        (["appointment", "add", "--participant", "1", "--place", " ", "--at", "2030-11-26T10:30"], "--place must not be empty"),
        (["appointment", "add", "--participant", "1", "--place", "x" * 201, "--at", "2030-11-26T10:30"], "--place is longer than 200 characters"),
        (["appointment", "add", "--participant", "1", "--place", "Nygatan 19\u202e", "--at", "2030-11-26T10:30"], "--place contains a hidden text-direction character (U+202E); remove it"),
        # A NUL cannot reach a command at all (the operating system ends an argument there); ESC is the control character here.
        (["appointment", "add", "--participant", "1", "--place", "Nygatan\x1b[2J19", "--at", "2030-11-26T10:30"], "--place contains a control character (U+001B); remove it"),
        ([*ADD, "--at", "2030-11-26T10:30", "--title", ""], "--title must not be empty"),
        ([*ADD, "--at", "2030-11-26T10:30", "--title", "y" * 201], "--title is longer than 200 characters"),
        ([*ADD, "--at", "2030-11-26T10:30", "--title", "\u202eUppföljning"], "--title contains a hidden text-direction character (U+202E); remove it"),
        ([*ADD, "--at", "2030-11-26T10:30", "--title", "Uppf\x07ljning"], "--title contains a control character (U+0007); remove it"),
        ([*ADD, "--at", "2030-11-26T10:30", "--remind", "3x"], '--remind: bad lead time "3x": use a number followed by d, h or m, e.g. 3d or 2h'),
        ([*ADD, "--at", "2030-11-26T10:30", "--remind", "0h"], '--remind: bad lead time "0h": must be more than zero, e.g. 3d or 2h'),
        ([*ADD, "--at", "2030-11-26T10:30", "--remind", "61d"], '--remind: bad lead time "61d": must be at most 60 days (60d)'),
        ([*ADD, "--at", "2030-11-26T10:30", "--remind", " "], "--remind: no lead time given; use e.g. 3d, 1d or 2h"),
        (["appointment", "add", "--participant", "abc", "--place", "Nygatan 19", "--at", "2030-11-26T10:30"], 'argument --participant: "abc" is not an id; use a whole number, e.g. 7 (see: stegvis appointment add --help)'),
        (["appointment", "add", "--participant", BIG, "--place", "Nygatan 19", "--at", "2030-11-26T10:30"], f'argument --participant: "{BIG}" is too large to be an id; use a whole number, e.g. 7 (see: stegvis appointment add --help)'),
        (["appointment", "move", BIG, "--at", "2030-11-26T10:30"], f'argument ID: "{BIG}" is too large to be an id; use a whole number, e.g. 7 (see: stegvis appointment move --help)'),
        (["appointment", "cancel", BIG], f'argument ID: "{BIG}" is too large to be an id; use a whole number, e.g. 7 (see: stegvis appointment cancel --help)'),
        (["appointment", "attended", BIG, "--yes"], f'argument ID: "{BIG}" is too large to be an id; use a whole number, e.g. 7 (see: stegvis appointment attended --help)'),
        (["appointment", "list", "--participant", BIG], f'argument --participant: "{BIG}" is too large to be an id; use a whole number, e.g. 7 (see: stegvis appointment list --help)'),
        (["appointment", "add", "--participant", "1", "--at", "2030-11-26T10:30"], "the following arguments are required: --place (see: stegvis appointment add --help)"),
        ([*ADD, "--at", "2030-11-26T10:30", "--when", "3d"], "unrecognized arguments: --when 3d (see: stegvis appointment add --help)"),
        (["appointment", "move", "7", "--at", "2030-11-26T10:30"], "no appointment with id 7 (see: stegvis appointment list)"),
        (["appointment", "cancel", "7"], "no appointment with id 7 (see: stegvis appointment list)"),
        (["appointment", "attended", "7", "--yes"], "no appointment with id 7 (see: stegvis appointment list)"),
        (["appointment", "attended", "7"], "one of the arguments --yes --no is required (see: stegvis appointment attended --help)"),
        (["appointment", "attended", "7", "--yes", "--no"], "argument --no: not allowed with argument --yes (see: stegvis appointment attended --help)"),
        (["appointment", "list", "--participant", "9"], "--participant: no participant with id 9 (see: stegvis participant list)"),
    ],
    ids=[
        "at-format", "at-without-time", "at-impossible-date", "at-impossible-time", "at-in-the-past", "at-in-dst-gap",
        "at-repeated-by-dst", "at-more-than-two-years-ahead", "at-more-than-two-years-ahead-in-utc", "at-beyond-year-9999",
        "at-before-year-1", "participant-unknown", "place-empty", "place-too-long", "place-bidi", "place-control",
        "title-empty", "title-too-long", "title-bidi", "title-control", "remind-bad", "remind-zero", "remind-too-long",
        "remind-empty", "participant-not-a-number", "participant-too-large", "move-id-too-large", "cancel-id-too-large",
        "attended-id-too-large", "list-participant-too-large", "option-missing",
        "option-unknown", "move-unknown", "cancel-unknown", "attended-unknown", "attended-neither", "attended-both",
        "list-participant-unknown",
    ],
)
def test_a_bad_command_line_input_gets_its_exact_json_error(db: Path, args: list[str], error: str):
    assert error_of(stegvis(db, *args, "--json")) == {"error": error}


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["appointment", "move", "1", "--at", "2030-11-26T10:30"], "--at: appointment 1 is already at 2030-11-26 10:30"),
        (["appointment", "move", "1", "--at", "2020-11-26T10:30"], "--at: 2020-11-26 10:30 is in the past"),
        (["appointment", "move", "1", "--at", "2031-06-01T12:01"], "--at: 2031-06-01 12:01 is more than two years from now; check the year"),
        (["appointment", "attended", "1", "--no"], "appointment 1 starts at 2030-11-26 10:30; record attendance once it has started"),
        (["appointment", "add", "--participant", "1", "--place", "Nygatan 19", "--at", "2030-11-26T10:30"], "--at: participant 1 already has appointment 1 at 2030-11-26 10:30"),
    ],
    ids=["move-to-same-time", "move-into-the-past", "move-more-than-two-years-ahead", "attended-too-early", "booked-twice"],
)
def test_a_command_that_does_not_fit_the_booked_appointment_is_refused(db: Path, args: list[str], error: str):
    book(db)
    assert error_of(stegvis(db, *args, "--json")) == {"error": error}


def test_moving_a_cancelled_appointment_is_refused(db: Path):
    book(db)
    stegvis(db, "appointment", "cancel", "1")
    assert error_of(stegvis(db, "appointment", "move", "1", "--at", "2030-11-28T10:30", "--json")) == {
        "error": "appointment 1 is cancelled and cannot be moved; book a new one with: stegvis appointment add"
    }


def test_cancelling_twice_is_refused(db: Path):
    book(db)
    assert stegvis(db, "appointment", "cancel", "1").returncode == 0
    assert error_of(stegvis(db, "appointment", "cancel", "1", "--json")) == {"error": "appointment 1 is already cancelled"}


def test_a_bad_input_without_json_is_one_line_on_stderr(db: Path):
    result = stegvis(db, *ADD, "--at", "2020-01-07T10:30")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "stegvis: --at: 2020-01-07 10:30 is in the past\n"
