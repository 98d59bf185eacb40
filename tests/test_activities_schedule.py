"""An activity's sessions from its weekly rules: local times across DST, Swedish holidays, bounds, cancellations."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.features.activities.parsing import parse_duration, parse_weekly
from bot.features.activities.schedule import Plan, WeeklyRule, holiday, nearest, sessions

TZ = ZoneInfo("Europe/Stockholm")
TUE, THU, FRI, SUN = 1, 3, 4, 6


def plan(*rules: tuple[int, time], starts: date = date(2027, 1, 1), ends: date | None = None, on_holidays: bool = False) -> Plan:
    return Plan(tuple(WeeklyRule(d, t) for d, t in rules), timedelta(hours=2), starts, ends, on_holidays)


def local(found: list, tz: ZoneInfo = TZ) -> list[str]:
    return [f"{s.starts_at.astimezone(tz):%Y-%m-%d %H:%M%z}" for s in found]


def test_a_ten_oclock_session_stays_at_ten_local_across_the_march_change() -> None:
    found = sessions(plan((TUE, time(10))), date(2027, 3, 20), date(2027, 4, 3), TZ)
    assert local(found) == ["2027-03-23 10:00+0100", "2027-03-30 10:00+0200"]
    assert [s.starts_at for s in found] == [datetime(2027, 3, 23, 9, tzinfo=timezone.utc), datetime(2027, 3, 30, 8, tzinfo=timezone.utc)]


def test_a_ten_oclock_session_stays_at_ten_local_across_the_october_change() -> None:
    found = sessions(plan((SUN, time(10))), date(2027, 10, 24), date(2027, 11, 7), TZ)
    assert local(found) == ["2027-10-24 10:00+0200", "2027-10-31 10:00+0100", "2027-11-07 10:00+0100"]
    assert found[1].ends_at - found[1].starts_at == timedelta(hours=2)


def test_a_time_the_spring_night_skips_moves_forward_and_a_repeated_one_takes_the_earlier() -> None:
    # 28 March 2027 is both Easter Sunday and the night the clocks go forward.
    spring = sessions(plan((SUN, time(2, 30)), on_holidays=True), date(2027, 3, 28), date(2027, 3, 28), TZ)
    assert local(spring) == ["2027-03-28 03:00+0200"]
    autumn = sessions(plan((SUN, time(2, 30))), date(2027, 10, 31), date(2027, 10, 31), TZ)
    assert local(autumn) == ["2027-10-31 02:30+0200"]


def test_swedish_holidays_are_skipped_but_a_plain_sunday_is_not() -> None:
    assert holiday(date(2027, 1, 3)) is None  # an ordinary Sunday
    thursdays = sessions(plan((THU, time(10))), date(2027, 5, 1), date(2027, 5, 31), TZ)
    assert [s.day for s in thursdays] == [date(2027, 5, 13), date(2027, 5, 20), date(2027, 5, 27)]  # 6 May: Ascension Day
    sundays = sessions(plan((SUN, time(10))), date(2027, 5, 30), date(2027, 6, 13), TZ)
    assert [s.day for s in sundays] == [date(2027, 5, 30), date(2027, 6, 13)]  # 6 June: National Day
    fridays = sessions(plan((FRI, time(10))), date(2027, 6, 18), date(2027, 7, 2), TZ)
    assert [s.day for s in fridays] == [date(2027, 6, 18), date(2027, 7, 2)]  # 25 June: Midsummer Eve
    december = sessions(plan((FRI, time(10)), (SUN, time(10))), date(2027, 12, 17), date(2027, 12, 31), TZ)
    assert [s.day for s in december] == [date(2027, 12, 17), date(2027, 12, 19)]  # Christmas Eve, Second Day of Christmas, New Year's Eve
    assert [holiday(d) for d in (date(2027, 5, 6), date(2027, 6, 6), date(2027, 6, 25), date(2027, 12, 24), date(2027, 12, 25))] == [
        "Ascension Day", "National Day", "Midsummer Eve", "Christmas Eve", "Christmas Day",
    ]


def test_an_activity_held_on_holidays_keeps_them() -> None:
    thursdays = sessions(plan((THU, time(10)), on_holidays=True), date(2027, 5, 1), date(2027, 5, 31), TZ)
    assert [s.day.day for s in thursdays] == [6, 13, 20, 27]


def test_sessions_fall_between_the_first_and_last_day() -> None:
    found = sessions(plan((TUE, time(10)), (THU, time(13, 30)), starts=date(2027, 1, 12), ends=date(2027, 1, 21)), date(2027, 1, 1), date(2027, 2, 28), TZ)
    assert local(found) == ["2027-01-12 10:00+0100", "2027-01-14 13:30+0100", "2027-01-19 10:00+0100", "2027-01-21 13:30+0100"]


def test_a_cancelled_session_is_listed_as_cancelled_with_its_reason() -> None:
    found = sessions(plan((TUE, time(10))), date(2027, 2, 1), date(2027, 2, 16), TZ, cancelled={date(2027, 2, 9): "Ledaren är sjuk"})
    assert [(s.day.day, s.cancelled, s.reason) for s in found] == [(2, False, None), (9, True, "Ledaren är sjuk"), (16, False, None)]


def test_nearest_sessions_on_either_side() -> None:
    before, after = nearest(plan((TUE, time(10)), (THU, time(13, 30))), date(2027, 2, 10), TZ)
    assert (before.day, after.day) == (date(2027, 2, 9), date(2027, 2, 11))
    assert nearest(plan((TUE, time(10)), starts=date(2027, 2, 16)), date(2027, 2, 10), TZ)[0] is None


@pytest.mark.parametrize(("text", "rule"), [("tue 10:00", (1, time(10))), ("Tuesday 9:05", (1, time(9, 5))), ("MÅN 10:00", (0, time(10))), ("måndag 08:15", (0, time(8, 15))), ("sön 18:00", (6, time(18))), ("Torsdag 13:30", (3, time(13, 30)))])
def test_weekly_rules_in_english_and_swedish(text: str, rule: tuple[int, time]) -> None:
    assert parse_weekly(text) == WeeklyRule(*rule)


@pytest.mark.parametrize(("text", "minutes"), [("90m", 90), ("2h", 120), ("1h30m", 90), ("15m", 15), ("12h", 720)])
def test_durations(text: str, minutes: int) -> None:
    assert parse_duration(text) == timedelta(minutes=minutes)
