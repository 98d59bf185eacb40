"""When appointment reminders are sent: lead times (bot.features.appointments.timing) and quiet hours (bot.outbox.quiet_hours)."""

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.features.appointments.timing import (
    LeadTime,
    PlannedReminder,
    parse_lead_times,
    plan_reminders,
    reminder_time,
)
from bot.outbox.quiet_hours import QuietHours, next_allowed_moment, shift_before_quiet_hours

TZ = ZoneInfo("Europe/Stockholm")
NIGHT = QuietHours(time(20, 0), time(8, 0))
D3, D1 = LeadTime(3, "d"), LeadTime(1, "d")
DEFAULT = (D3, D1)


def local(y, mo, d, h=0, mi=0):
    return datetime(y, mo, d, h, mi, tzinfo=TZ)


def wall(dt):
    """Naive Stockholm wall time of an aware datetime, for exact local assertions."""
    return dt.astimezone(TZ).replace(tzinfo=None)


def plan(appointment_at, leads=DEFAULT, *, now, quiet=NIGHT):
    return plan_reminders(appointment_at, leads, now=now, tz=TZ, quiet=quiet)


# --- parsing -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3d", LeadTime(3, "d")), (" 2H ", LeadTime(2, "h")), ("90m", LeadTime(90, "m")),
     ("3 d", LeadTime(3, "d")), ("60d", LeadTime(60, "d"))],
)
def test_lead_time_parses_accepted_forms(text, expected):
    assert LeadTime.parse(text) == expected


def test_lead_time_prints_as_it_is_written():
    assert str(LeadTime.parse("3D")) == "3d"
    assert str(LeadTime(90, "m")) == "90m"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3x", 'bad lead time "3x": use a number followed by d, h or m, e.g. 3d or 2h'),
        ("", 'bad lead time "": use a number followed by d, h or m, e.g. 3d or 2h'),
        ("d", 'bad lead time "d": use a number followed by d, h or m, e.g. 3d or 2h'),
        ("3", 'bad lead time "3": use a number followed by d, h or m, e.g. 3d or 2h'),
        ("-1d", 'bad lead time "-1d": use a number followed by d, h or m, e.g. 3d or 2h'),
        ("1.5d", 'bad lead time "1.5d": use a number followed by d, h or m, e.g. 3d or 2h'),
        ("0d", 'bad lead time "0d": must be more than zero, e.g. 3d or 2h'),
        (" 0m ", 'bad lead time "0m": must be more than zero, e.g. 3d or 2h'),
        ("61d", 'bad lead time "61d": must be at most 60 days (60d)'),
        ("1441h", 'bad lead time "1441h": must be at most 60 days (60d)'),
    ],
)
def test_lead_time_rejects_bad_text_with_clear_message(text, message):
    with pytest.raises(ValueError) as excinfo:
        LeadTime.parse(text)
    assert str(excinfo.value) == message


def test_lead_time_constructor_validates_too():
    with pytest.raises(ValueError, match='bad lead time "0h"'):
        LeadTime(0, "h")


def test_lead_times_are_hashable_and_sort_by_length():
    assert sorted({LeadTime(2, "h"), D1, D3, LeadTime(90, "m")}) == [
        LeadTime(90, "m"), LeadTime(2, "h"), D1, D3,
    ]


def test_parse_lead_times_sorts_longest_first_and_drops_duplicates():
    assert parse_lead_times("1d, 2h,3d,1D") == (D3, D1, LeadTime(2, "h"))


def test_parse_lead_times_default_setting():
    assert parse_lead_times("3d,1d") == DEFAULT


def test_parse_lead_times_rejects_empty():
    with pytest.raises(ValueError) as excinfo:
        parse_lead_times(" ")
    assert str(excinfo.value) == 'no lead times in "": use a comma-separated list, e.g. 3d,1d'


def test_parse_lead_times_names_the_bad_item():
    with pytest.raises(ValueError, match='bad lead time "2x"'):
        parse_lead_times("3d,2x")


def test_quiet_hours_parse():
    assert QuietHours.parse("20:00-08:00") == NIGHT
    assert QuietHours.parse(" 12:00 - 13:30 ") == QuietHours(time(12, 0), time(13, 30))


@pytest.mark.parametrize("text", ["", "   "])
def test_quiet_hours_empty_means_none(text):
    assert QuietHours.parse(text) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("20-08", 'bad quiet hours "20-08": use HH:MM-HH:MM, e.g. 20:00-08:00, or leave it empty for none'),
        ("25:00-08:00", 'bad quiet hours "25:00-08:00": use HH:MM-HH:MM, e.g. 20:00-08:00, or leave it empty for none'),
        ("20:00-08:60", 'bad quiet hours "20:00-08:60": use HH:MM-HH:MM, e.g. 20:00-08:00, or leave it empty for none'),
        ("20:00 08:00", 'bad quiet hours "20:00 08:00": use HH:MM-HH:MM, e.g. 20:00-08:00, or leave it empty for none'),
        ("20:00-20:00", 'bad quiet hours "20:00-20:00": start and end must differ'),
    ],
)
def test_quiet_hours_rejects_bad_text_with_clear_message(text, message):
    with pytest.raises(ValueError) as excinfo:
        QuietHours.parse(text)
    assert str(excinfo.value) == message


def test_quiet_hours_wrapping_midnight_is_start_inclusive_end_exclusive():
    assert NIGHT.contains(time(20, 0))
    assert NIGHT.contains(time(2, 0))
    assert NIGHT.contains(time(7, 59))
    assert not NIGHT.contains(time(8, 0))
    assert not NIGHT.contains(time(19, 59))


def test_quiet_hours_not_wrapping_midnight():
    lunch = QuietHours.parse("12:00-13:00")
    assert lunch.contains(time(12, 0))
    assert lunch.contains(time(12, 59))
    assert not lunch.contains(time(13, 0))
    assert not lunch.contains(time(11, 59))
    assert not lunch.contains(time(23, 0))


# --- raw reminder times ------------------------------------------------------


def test_reminder_time_returns_utc():
    due = reminder_time(local(2026, 5, 12, 10, 0), D1, TZ)
    assert due.tzinfo is timezone.utc
    assert due == datetime(2026, 5, 11, 8, 0, tzinfo=timezone.utc)


def test_one_day_before_across_spring_forward_keeps_wall_time_and_is_23_hours():
    appointment = local(2026, 3, 29, 10, 30)
    due = reminder_time(appointment, D1, TZ)
    assert wall(due) == datetime(2026, 3, 28, 10, 30)
    assert appointment - due == timedelta(hours=23)


def test_one_day_before_across_fall_back_keeps_wall_time_and_is_25_hours():
    appointment = local(2026, 10, 25, 10, 30)
    due = reminder_time(appointment, D1, TZ)
    assert wall(due) == datetime(2026, 10, 24, 10, 30)
    assert appointment - due == timedelta(hours=25)


def test_hour_lead_across_spring_forward_is_exact_duration():
    appointment = local(2026, 3, 29, 3, 30)  # 01:30 UTC, just after the jump
    due = reminder_time(appointment, LeadTime(2, "h"), TZ)
    assert appointment - due == timedelta(hours=2)
    assert wall(due) == datetime(2026, 3, 29, 0, 30)  # three wall-clock hours earlier


def test_hour_lead_across_fall_back_is_exact_duration():
    appointment = local(2026, 10, 25, 3, 30)  # CET, after the repeat hour
    due = reminder_time(appointment, LeadTime(2, "h"), TZ)
    assert appointment - due == timedelta(hours=2)
    assert due == datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc)  # first 02:30, CEST


def test_day_lead_into_spring_forward_gap_uses_first_moment_after_gap():
    # 02:30 on 2026-03-29 does not exist in Stockholm; the clock jumps 02:00 -> 03:00.
    due = reminder_time(local(2026, 3, 30, 2, 30), D1, TZ)
    assert due == datetime(2026, 3, 29, 1, 0, tzinfo=timezone.utc)
    assert wall(due) == datetime(2026, 3, 29, 3, 0)


def test_day_lead_into_fall_back_fold_uses_earlier_instant():
    # 02:30 on 2026-10-25 happens twice; take the first one (CEST, UTC+2).
    due = reminder_time(local(2026, 10, 26, 2, 30), D1, TZ)
    assert due == datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc)


# --- quiet hours -------------------------------------------------------------


def test_shift_moves_evening_time_to_just_before_quiet_start():
    shifted = shift_before_quiet_hours(local(2026, 5, 12, 22, 15), NIGHT, TZ)
    assert wall(shifted) == datetime(2026, 5, 12, 19, 59)


def test_shift_after_midnight_goes_back_to_previous_evening():
    shifted = shift_before_quiet_hours(local(2026, 5, 12, 2, 0), NIGHT, TZ)
    assert wall(shifted) == datetime(2026, 5, 11, 19, 59)


def test_shift_leaves_allowed_time_alone():
    when = local(2026, 5, 12, 8, 0)
    assert shift_before_quiet_hours(when, NIGHT, TZ) == when


def test_next_allowed_moment_outside_quiet_hours_is_unchanged():
    when = local(2026, 5, 12, 12, 0)
    assert next_allowed_moment(when, NIGHT, TZ) == when
    assert next_allowed_moment(when, NIGHT, TZ).tzinfo is timezone.utc


def test_next_allowed_moment_in_evening_is_next_morning():
    moved = next_allowed_moment(local(2026, 5, 12, 23, 0), NIGHT, TZ)
    assert wall(moved) == datetime(2026, 5, 13, 8, 0)


def test_next_allowed_moment_after_midnight_is_same_morning():
    moved = next_allowed_moment(local(2026, 5, 13, 2, 0), NIGHT, TZ)
    assert wall(moved) == datetime(2026, 5, 13, 8, 0)


def test_next_allowed_moment_with_non_wrapping_quiet_hours():
    lunch = QuietHours.parse("12:00-13:00")
    moved = next_allowed_moment(local(2026, 5, 13, 12, 30), lunch, TZ)
    assert wall(moved) == datetime(2026, 5, 13, 13, 0)


def test_next_allowed_moment_without_quiet_hours_is_unchanged():
    when = local(2026, 5, 13, 2, 0)
    assert next_allowed_moment(when, None, TZ) == when


# --- planning ----------------------------------------------------------------


def test_default_plan_is_three_days_and_one_day_before():
    appointment = local(2026, 5, 12, 10, 0)
    reminders = plan(appointment, now=local(2026, 5, 1, 9, 0))
    assert reminders == [
        PlannedReminder(D3, local(2026, 5, 9, 10, 0), immediate=False),
        PlannedReminder(D1, local(2026, 5, 11, 10, 0), immediate=False),
    ]
    assert all(r.due_at.tzinfo is timezone.utc for r in reminders)


def test_appointment_at_0830_is_reminded_at_0830_the_day_before():
    reminders = plan(local(2026, 5, 13, 8, 30), (D1,), now=local(2026, 5, 1, 9, 0))
    assert [wall(r.due_at) for r in reminders] == [datetime(2026, 5, 12, 8, 30)]


def test_appointment_at_0700_moves_reminders_before_the_quiet_evening():
    # 07:00 on 12 May is inside the quiet period that began at 20:00 on 11 May.
    reminders = plan(local(2026, 5, 13, 7, 0), now=local(2026, 5, 1, 9, 0))
    assert [(str(r.lead), wall(r.due_at)) for r in reminders] == [
        ("3d", datetime(2026, 5, 9, 19, 59)),
        ("1d", datetime(2026, 5, 11, 19, 59)),
    ]


def test_non_wrapping_quiet_hours_shift_to_just_before_start():
    lunch = QuietHours.parse("12:00-13:00")
    reminders = plan(local(2026, 5, 13, 12, 30), (D1,), now=local(2026, 5, 1, 9, 0), quiet=lunch)
    assert [wall(r.due_at) for r in reminders] == [datetime(2026, 5, 12, 11, 59)]


def test_no_quiet_hours_leaves_night_times_alone():
    reminders = plan(local(2026, 5, 13, 7, 0), (D1,), now=local(2026, 5, 1, 9, 0),
                     quiet=QuietHours.parse(""))
    assert [wall(r.due_at) for r in reminders] == [datetime(2026, 5, 12, 7, 0)]


def test_gap_reminder_then_moves_out_of_quiet_hours():
    # 1d before 2026-03-30 02:30 -> 03:00 on 29 March (gap) -> quiet since 20:00 CET on 28 March.
    reminders = plan(local(2026, 3, 30, 2, 30), (D1,), now=local(2026, 3, 1, 9, 0))
    assert [r.due_at for r in reminders] == [datetime(2026, 3, 28, 18, 59, tzinfo=timezone.utc)]
    assert wall(reminders[0].due_at) == datetime(2026, 3, 28, 19, 59)


def test_late_booking_gets_one_immediate_reminder_plus_the_remaining_one():
    now = local(2026, 5, 11, 10, 0)
    reminders = plan(local(2026, 5, 13, 10, 0), now=now)
    assert reminders == [
        PlannedReminder(D3, now, immediate=True),
        PlannedReminder(D1, local(2026, 5, 12, 10, 0), immediate=False),
    ]


def test_booking_five_hours_before_gets_exactly_one_immediate_reminder():
    now = local(2026, 5, 13, 10, 0)
    reminders = plan(local(2026, 5, 13, 15, 0), now=now)
    assert reminders == [PlannedReminder(D3, now, immediate=True)]


def test_lead_time_longer_than_time_left_is_sent_right_away():
    now = local(2026, 5, 13, 10, 0)
    reminders = plan(local(2026, 5, 13, 11, 0), (LeadTime(2, "h"),), now=now)
    assert reminders == [PlannedReminder(LeadTime(2, "h"), now, immediate=True)]


def test_late_booking_in_quiet_hours_waits_until_morning():
    reminders = plan(local(2026, 5, 13, 9, 0), now=local(2026, 5, 12, 23, 0))
    assert len(reminders) == 1
    assert reminders[0].immediate
    assert wall(reminders[0].due_at) == datetime(2026, 5, 13, 8, 0)


def test_late_booking_in_quiet_hours_before_early_appointment_gets_no_reminder():
    assert plan(local(2026, 5, 13, 7, 30), now=local(2026, 5, 12, 23, 0)) == []


def test_reminder_moved_before_now_by_quiet_hours_becomes_immediate():
    # Booked at 20:30: 1d before is 21:30 tonight (quiet) -> 19:59, already past -> 08:00.
    reminders = plan(local(2026, 5, 13, 21, 30), (D1,), now=local(2026, 5, 12, 20, 30))
    assert reminders == [PlannedReminder(D1, local(2026, 5, 13, 8, 0), immediate=True)]


def test_leads_landing_on_same_moment_collapse_keeping_the_longer():
    # 1d -> 07:00 on 12 May and 30h -> 01:00 on 12 May both shift to 19:59 on 11 May.
    reminders = plan(local(2026, 5, 13, 7, 0), (D1, LeadTime(30, "h")), now=local(2026, 5, 1, 9, 0))
    assert reminders == [PlannedReminder(LeadTime(30, "h"), local(2026, 5, 11, 19, 59), immediate=False)]


def test_duplicate_lead_times_give_one_reminder():
    reminders = plan(local(2026, 5, 12, 10, 0), (D1, D1), now=local(2026, 5, 1, 9, 0))
    assert len(reminders) == 1


def test_past_appointment_gets_no_reminders():
    assert plan(local(2026, 5, 12, 10, 0), now=local(2026, 5, 12, 10, 0)) == []


@pytest.mark.parametrize(
    "call",
    [
        lambda: reminder_time(datetime(2026, 5, 12, 10, 0), D1, TZ),
        lambda: shift_before_quiet_hours(datetime(2026, 5, 12, 22, 0), NIGHT, TZ),
        lambda: next_allowed_moment(datetime(2026, 5, 12, 22, 0), NIGHT, TZ),
        lambda: plan(datetime(2026, 5, 12, 10, 0), now=local(2026, 5, 1)),
        lambda: plan(local(2026, 5, 12, 10, 0), now=datetime(2026, 5, 1)),
    ],
    ids=["reminder_time", "shift", "next_allowed", "plan-appointment", "plan-now"],
)
def test_naive_datetime_rejected(call):
    with pytest.raises(ValueError, match="must be timezone-aware"):
        call()
