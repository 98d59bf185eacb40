"""``stegvis checkin schedule | list`` as a caseworker runs them: one JSON object each, and the exact
error (exit code 2) for each bad input, which changes nothing.

Uses the activity CLI's template: caseworker 1, participants 1 (active), 2 (invited), 3
(stopped), activity 1; the clock is frozen on Monday 4 January 2027 at 12:00 in Stockholm.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_activities_cli import db, ok, snapshot, stegvis, template  # noqa: F401 - fixtures
from tests.test_appointments_cli import error_of


def test_schedule_a_participant_and_an_activity_and_back_to_the_default(db: Path) -> None:
    ok(db, "activity", "enrol", "1", "--participant", "1")
    assert ok(db, "checkin", "schedule", "--participant", "1", "--at", "thu 10:00") == {"participant": 1, "at": "thu 10:00", "default": "fri 14:00", "replanned": 0}
    assert ok(db, "checkin", "schedule", "--activity", "1", "--at", "Onsdag 09:30") == {"activity": 1, "at": "wed 09:30", "default": "fri 14:00", "replanned": 0}
    assert ok(db, "checkin", "schedule", "--participant", "1", "--default")["at"] is None
    human = stegvis(db, "checkin", "schedule", "--activity", "1", "--default")
    assert (human.returncode, human.stdout.strip()) == (0, "Activity 1 is back to the default (fri 14:00 unless an activity says otherwise).")


def test_list_shows_who_will_be_asked_this_week_and_when(db: Path) -> None:
    ok(db, "activity", "enrol", "1", "--participant", "1")
    ok(db, "checkin", "schedule", "--activity", "1", "--at", "thu 10:00")
    listing = ok(db, "checkin", "list")
    assert listing["week"] == "2027-W01" and listing["monday"] == "2027-01-04"
    assert [(c["participant"], c["status"], c["due"]) for c in listing["checkins"]] == [(1, "planned", "2027-01-07T10:00+01:00")]
    assert ok(db, "checkin", "list", "--week", "2026-W52")["checkins"] == []  # a past week: only who was asked
    human = stegvis(db, "checkin", "list", "--week", "2026-W52")
    assert human.stdout.strip() == "No check-ins in 2026-W52."


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("checkin", "schedule", "--participant", "1", "--at", "thu"), '--at: "thu" has no time; use a weekday and a time, e.g. "tue 10:00" or "torsdag 13:30"'),
        (("checkin", "schedule", "--participant", "1", "--at", "funday 10:00"), '--at: "funday" is not a weekday; use mon … sun or måndag … söndag, e.g. tue or tisdag'),
        (("checkin", "schedule", "--participant", "99", "--at", "thu 10:00"), "--participant: no participant 99"),
        (("checkin", "schedule", "--activity", "7", "--default"), "--activity: no activity 7"),
        (("checkin", "list", "--week", "2027-W60"), '--week: "2027-W60" is not an ISO week; use YYYY-Www, e.g. 2027-W03'),
    ],
)
def test_bad_input_is_refused_with_exit_2_and_changes_nothing(db: Path, args: tuple[str, ...], error: str) -> None:
    before = snapshot(db)
    assert error_of(stegvis(db, *args, "--json")) == {"error": error}
    plain = stegvis(db, *args)
    assert (plain.returncode, plain.stderr.strip()) == (2, f"stegvis: {error}")
    assert snapshot(db) == before


@pytest.mark.parametrize(
    "args",
    [("checkin", "schedule", "--at", "thu 10:00"), ("checkin", "schedule", "--participant", "1"), ("checkin", "schedule", "--participant", "1", "--activity", "1", "--default"), ("checkin", "schedule", "--participant", "1", "--at", "thu 10:00", "--default")],
)
def test_schedule_needs_exactly_one_who_and_one_when(db: Path, args: tuple[str, ...]) -> None:
    assert "error" in error_of(stegvis(db, *args, "--json"))
