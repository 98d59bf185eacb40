"""Tests for bot.validation: what each bad input a caseworker might type is told, word for word."""

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.features.appointments.timing import LeadTime
from bot.validation import (
    check_not_too_far,
    clean_name,
    clean_text,
    local_datetime,
    parse_at,
    parse_date,
    parse_email,
    parse_id,
    parse_remind,
    parse_time,
)

TZ = ZoneInfo("Europe/Stockholm")
NOW = datetime(2026, 6, 1, 10, 0, tzinfo=timezone.utc)  # 12:00 in Stockholm
AT_FORM = "use YYYY-MM-DDTHH:MM in local time (Europe/Stockholm), e.g. 2026-11-24T10:30"
PARTICIPANT_HINT = "use the number from: stegvis participant list"


def refusal(parse, *args, **kwargs) -> str:
    with pytest.raises(ValueError) as excinfo:
        parse(*args, **kwargs)
    return str(excinfo.value)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


# --- ids ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", 1), ("7", 7), ("007", 7), ("9223372036854775807", 2**63 - 1)],
)
def test_parse_id_accepts_ascii_numbers_up_to_64_bits(text, expected):
    assert parse_id(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "must not be empty"),
        ("x", f'"x" is not a participant id; {PARTICIPANT_HINT}'),
        ("+7", f'"+7" is not a participant id; {PARTICIPANT_HINT}'),
        ("-7", f'"-7" is not a participant id; {PARTICIPANT_HINT}'),
        (" 7", f'" 7" is not a participant id; {PARTICIPANT_HINT}'),
        ("7 ", f'"7 " is not a participant id; {PARTICIPANT_HINT}'),
        ("7.0", f'"7.0" is not a participant id; {PARTICIPANT_HINT}'),
        ("1e3", f'"1e3" is not a participant id; {PARTICIPANT_HINT}'),
        ("²", f'"²" is not a participant id; {PARTICIPANT_HINT}'),
        ("7\x00", f'"7<U+0000>" is not a participant id; {PARTICIPANT_HINT}'),
        ("\u202e7", f'"<U+202E>7" is not a participant id; {PARTICIPANT_HINT}'),
        ("٣", '"٣" is not a participant id; type it with the digits 0-9'),
        ("12۳", '"12۳" is not a participant id; type it with the digits 0-9'),
        ("0", '"0" is not a participant id; ids start at 1'),
        ("000", '"000" is not a participant id; ids start at 1'),
        ("9223372036854775808", f'"9223372036854775808" is too large to be a participant id; {PARTICIPANT_HINT}'),
        ("99999999999999999999", f'"99999999999999999999" is too large to be a participant id; {PARTICIPANT_HINT}'),
        # Past 4300 digits int() itself refuses, with a message about sys.set_int_max_str_digits.
        ("9" * 5000, f'"{"9" * 60}…" is too large to be a participant id; {PARTICIPANT_HINT}'),
    ],
)
def test_parse_id_refuses(text, message):
    assert refusal(parse_id, text) == message


@pytest.mark.parametrize(
    ("text", "what", "message"),
    [
        ("x", "appointment", '"x" is not an appointment id; use the number from: stegvis appointment list'),
        ("99999999999999999999", "appointment", '"99999999999999999999" is too large to be an appointment id; use the number from: stegvis appointment list'),
        ("x", "caseworker", '"x" is not a caseworker id; use a whole number, e.g. 7'),
        ("0", "caseworker", '"0" is not a caseworker id; ids start at 1'),
        # The CLI's wording for an id argument of any kind.
        ("abc", None, '"abc" is not an id; use a whole number, e.g. 7'),
        ("99999999999999999999", None, '"99999999999999999999" is too large to be an id; use a whole number, e.g. 7'),
    ],
)
def test_parse_id_names_what_it_expected(text, what, message):
    assert refusal(parse_id, text, what) == message


# --- dates and times ----------------------------------------------------------


DATE_FORM = "use YYYY-MM-DD, e.g. 2026-11-24"
TIME_FORM = "use HH:MM (24-hour clock), e.g. 10:30"


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (parse_date, "", "must not be empty"),
        (parse_date, "  ", "must not be empty"),
        (parse_date, "2026-13-01", f'"2026-13-01" is not a date; {DATE_FORM}'),
        (parse_date, "2026-02-29", f'"2026-02-29" is not a date; {DATE_FORM}'),
        (parse_date, "0000-01-01", f'"0000-01-01" is not a date; {DATE_FORM}'),
        (parse_date, "24/11/2026", f'"24/11/2026" is not a date; {DATE_FORM}'),
        (parse_date, "٢٠٢٦-١١-٢٤", f'"٢٠٢٦-١١-٢٤" is not a date; {DATE_FORM}'),
        (parse_date, "2026-11-24\u202e", f'"2026-11-24<U+202E>" is not a date; {DATE_FORM}'),
        (parse_time, "", "must not be empty"),
        (parse_time, "9.00", f'"9.00" is not a time; {TIME_FORM}'),
        (parse_time, "24:00", f'"24:00" is not a time; {TIME_FORM}'),
        (parse_time, "10:60", f'"10:60" is not a time; {TIME_FORM}'),
        (parse_time, "١٠:٣٠", f'"١٠:٣٠" is not a time; {TIME_FORM}'),
        (parse_time, "10:30\x00", f'"10:30<U+0000>" is not a time; {TIME_FORM}'),
    ],
)
def test_parse_date_and_time_refuse(parse, text, message):
    assert refusal(parse, text) == message


def test_parse_date_accepts_iso_dates():
    assert parse_date(" 2028-02-29 ") == date(2028, 2, 29)


def test_parse_time_accepts_one_digit_hours():
    assert parse_time("9:05") == time(9, 5)


@pytest.mark.parametrize(
    ("day", "clock", "tz", "message"),
    [
        (date(2030, 3, 31), time(2, 30), TZ, "2030-03-31 02:30 does not exist in Europe/Stockholm: the clocks go forward that night; pick another time"),
        (date(2030, 10, 27), time(2, 30), TZ, "2030-10-27 02:30 happens twice in Europe/Stockholm: the clocks go back that night; pick another time"),
        (date(1, 1, 1), time(0, 30), TZ, "0001-01-01 00:30 is too far in the past; check the year"),
        (date(9999, 12, 31), time(23, 59), ZoneInfo("America/New_York"), "9999-12-31 23:59 is too far in the future; check the year"),
    ],
)
def test_local_datetime_refuses(day, clock, tz, message):
    assert refusal(local_datetime, day, clock, tz) == message


def test_local_datetime_gives_utc():
    assert local_datetime(date(2026, 11, 24), time(10, 30), TZ) == utc(2026, 11, 24, 9, 30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-24T10:30", utc(2026, 11, 24, 9, 30)),
        ("2026-11-24 10:30", utc(2026, 11, 24, 9, 30)),
        ("2026-11-24T10:30:15", utc(2026, 11, 24, 9, 30, 15)),
        ("2026-11-24T10:30Z", utc(2026, 11, 24, 10, 30)),
        ("2026-11-24T10:30+01:00", utc(2026, 11, 24, 9, 30)),
        ("2026-11-24T10:30-0500", utc(2026, 11, 24, 15, 30)),
        ("2026-11-24T10:30+14:00", utc(2026, 11, 23, 20, 30)),
        ("2026-11-24T10:30-14:00", utc(2026, 11, 25, 0, 30)),
        ("2028-06-01T12:00", utc(2028, 6, 1, 10, 0)),  # exactly two years after NOW
    ],
)
def test_parse_at_accepts(text, expected):
    assert parse_at(text, TZ, now=NOW) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-11-24", f'"2026-11-24" is not a date and time; {AT_FORM}'),
        ("24/11/2026 10:30", f'"24/11/2026 10:30" is not a date and time; {AT_FORM}'),
        ("2026-11-24T10:30:60", f'"2026-11-24T10:30:60" is not a date and time; {AT_FORM}'),
        ("2026-11-24T10:30+1", f'"2026-11-24T10:30+1" is not a date and time; {AT_FORM}'),
        ("٢٠٢٦-١١-٢٤T10:30", f'"٢٠٢٦-١١-٢٤T10:30" is not a date and time; {AT_FORM}'),
        ("2026-11-24T10:30\u202e", f'"2026-11-24T10:30<U+202E>" is not a date and time; {AT_FORM}'),
        ("2026-11-31T10:30", f'"2026-11-31" is not a date; {DATE_FORM}'),
        ("2026-11-24T24:30", f'"24:30" is not a time; {TIME_FORM}'),
        ("2027-03-28T02:30", "2027-03-28 02:30 does not exist in Europe/Stockholm: the clocks go forward that night; pick another time"),
        ("2026-10-25T02:30", "2026-10-25 02:30 happens twice in Europe/Stockholm: the clocks go back that night; pick another time"),
        ("2026-11-24T10:30+14:01", '"+14:01" is not a UTC offset; use one from -14:00 to +14:00, e.g. +01:00'),
        ("2026-11-24T10:30-15:00", '"-15:00" is not a UTC offset; use one from -14:00 to +14:00, e.g. +01:00'),
        ("2026-11-24T10:30+01:60", '"+01:60" is not a UTC offset; use one from -14:00 to +14:00, e.g. +01:00'),
        ("2026-11-24T10:30+99:99", '"+99:99" is not a UTC offset; use one from -14:00 to +14:00, e.g. +01:00'),
        ("2028-06-01T12:01", "2028-06-01 12:01 is more than two years from now; check the year"),
        ("2062-11-24T10:30", "2062-11-24 10:30 is more than two years from now; check the year"),
        ("9999-12-31T23:59", "9999-12-31 23:59 is more than two years from now; check the year"),
        # Too late to show in Stockholm time (that would be year 10000), so shown as typed.
        ("9999-12-31T23:59Z", "9999-12-31 23:59 is more than two years from now; check the year"),
        ("9999-12-31T23:59-14:00", "9999-12-31 23:59 is too far in the future; check the year"),
        ("0001-01-01T00:30", "0001-01-01 00:30 is too far in the past; check the year"),
        ("0001-01-01T00:30+14:00", "0001-01-01 00:30 is too far in the past; check the year"),
    ],
)
def test_parse_at_refuses(text, message):
    assert refusal(parse_at, text, TZ, now=NOW) == message


def test_check_not_too_far_takes_the_calendar_year_from_a_leap_day():
    leap_day = utc(2028, 2, 29, 10, 0)
    check_not_too_far(utc(2030, 2, 28, 10, 0), leap_day)
    assert refusal(check_not_too_far, utc(2030, 2, 28, 10, 1), leap_day) == "2030-02-28 10:01 is more than two years from now; check the year"


def test_check_not_too_far_shows_the_time_in_the_zone_given():
    assert refusal(check_not_too_far, utc(2040, 1, 1, 23, 30), NOW, tz=TZ) == "2040-01-02 00:30 is more than two years from now; check the year"


def test_naive_times_are_refused_as_a_programming_error():
    assert refusal(check_not_too_far, datetime(2026, 7, 1), NOW) == "starts_at must be timezone-aware, got naive 2026-07-01T00:00:00"
    assert refusal(parse_at, "2026-11-24T10:30", TZ, now=datetime(2026, 6, 1)) == "now must be timezone-aware, got naive 2026-06-01T00:00:00"


# --- lead times --------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["3d", "1d"], (LeadTime(3, "d"), LeadTime(1, "d"))),
        (["1d,3d"], (LeadTime(3, "d"), LeadTime(1, "d"))),
        (["3 d 2h"], (LeadTime(3, "d"), LeadTime(2, "h"))),
        (["1d", "1d"], (LeadTime(1, "d"),)),
    ],
)
def test_parse_remind_accepts(values, expected):
    assert parse_remind(values) == expected


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([" "], "no lead time given; use e.g. 3d, 1d or 2h"),
        (["3x"], 'bad lead time "3x": use a number followed by d, h or m, e.g. 3d or 2h'),
        (["0h"], 'bad lead time "0h": must be more than zero, e.g. 3d or 2h'),
        (["61d"], 'bad lead time "61d": must be at most 60 days (60d)'),
        (["99999999999999999999d"], 'bad lead time "99999999999999999999d": must be at most 60 days (60d)'),
        ([f"{'9' * 5000}d"], f'bad lead time "{"9" * 60}…": must be at most 60 days (60d)'),
    ],
)
def test_parse_remind_refuses(values, message):
    assert refusal(parse_remind, values) == message


# --- names, places, titles ----------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["حسن الخطيب", "Senait Tesfay", "ሰናይት", "زهرا احمدی", "Zahra Ahmadi-Karimi", "O'Brien",
     "Maryam Mohammadi\u200cnejad",  # Persian writes a zero-width non-joiner inside words
     "Cabdi Maxamed Xasan", "Åsa Öberg"],
)
def test_clean_name_accepts_names_in_every_script_we_serve(name):
    assert clean_name(name) == name


@pytest.mark.parametrize(
    ("text", "expected"),
    [("  Anna Berg  ", "Anna Berg"), ("Anna \t Berg", "Anna Berg"), ("Anna\u00a0Berg", "Anna Berg"), ("Anna Berg\n", "Anna Berg")],
)
def test_clean_name_collapses_spaces(text, expected):
    assert clean_name(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "must not be empty"),
        (" \t ", "must not be empty"),
        ("x" * 201, "is longer than 200 characters"),
        ("Anna\nBerg", "must be on one line"),
        ("Anna\r\nBerg", "must be on one line"),
        ("Anna\u2028Berg", "must be on one line"),
        ("Anna\x00", "contains a control character (U+0000); remove it"),
        ("Anna\x1b[31mBerg", "contains a control character (U+001B); remove it"),
        ("Anna\x7f", "contains a control character (U+007F); remove it"),
        ("Anna\x85Berg", "contains a control character (U+0085); remove it"),
        ("\u202eAnna", "contains a hidden text-direction character (U+202E); remove it"),
        ("\u2067حسن\u2069", "contains a hidden text-direction character (U+2067); remove it"),
        ("حسن\u200f", "contains a hidden text-direction character (U+200F); remove it"),
        ("حسن\u061c", "contains a hidden text-direction character (U+061C); remove it"),
        ("Anna\udcff", "contains a character that is not valid text (U+DCFF); remove it"),
        ("123", "must contain at least one letter"),
        ("--", "must contain at least one letter"),
    ],
)
def test_clean_name_refuses(text, message):
    assert refusal(clean_name, text) == message


@pytest.mark.parametrize(
    ("value", "required", "expected"),
    [
        ("  Nygatan 19 ", True, "Nygatan 19"),
        ("Nygatan 19\n2 tr", True, "Nygatan 19 2 tr"),
        ("Nygatan\t19\r\n\r\nentré B", True, "Nygatan 19 entré B"),
        ("Nygatan 19\vplan 2", True, "Nygatan 19 plan 2"),  # a line break copied from PowerPoint
        ("Nygatan\u00a019", True, "Nygatan 19"),
        ("مكتب العمل", True, "مكتب العمل"),
        ("x" * 200, True, "x" * 200),
        (None, False, None),
        ("  ", False, None),
    ],
)
def test_clean_text_collapses_white_space(value, required, expected):
    assert clean_text(value, required=required) == expected


@pytest.mark.parametrize(
    ("value", "required", "message"),
    [
        (None, True, "must not be empty"),
        (" \n ", True, "must not be empty"),
        ("x" * 201, False, "is longer than 200 characters"),
        ("Nygatan\x0019", True, "contains a control character (U+0000); remove it"),
        ("Nygatan\x1f19", True, "contains a control character (U+001F); remove it"),
        ("Nygatan 19\u202d", False, "contains a hidden text-direction character (U+202D); remove it"),
        ("Nygatan \u202a19", True, "contains a hidden text-direction character (U+202A); remove it"),
        ("\u2066Nygatan\u2069", True, "contains a hidden text-direction character (U+2066); remove it"),
        ("Nygatan\u200e19", True, "contains a hidden text-direction character (U+200E); remove it"),
    ],
)
def test_clean_text_refuses(value, required, message):
    assert refusal(clean_text, value, required=required) == message


# --- e-mail --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("anna.berg@kommun.se", "anna.berg@kommun.se"),
        ("  Anna.Berg@Kommun.SE ", "Anna.Berg@kommun.se"),
        ("o'brien+kurs@kommun.se", "o'brien+kurs@kommun.se"),
        ("åsa@göteborg.se", "åsa@göteborg.se"),
    ],
)
def test_parse_email_accepts_one_address_and_lower_cases_the_domain(text, expected):
    assert parse_email(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "must not be empty"),
        ("anna", '"anna" is not an e-mail address: it has no @; e.g. anna.berg@kommun.se'),
        ("@kommun.se", '"@kommun.se" is not an e-mail address: there is nothing before the @; e.g. anna.berg@kommun.se'),
        ("anna@", '"anna@" is not an e-mail address: the part after the @ must be a domain such as kommun.se'),
        ("anna@kommun", '"anna@kommun" is not an e-mail address: the part after the @ must be a domain such as kommun.se'),
        ("anna@kommun..se", '"anna@kommun..se" is not an e-mail address: the part after the @ must be a domain such as kommun.se'),
        ("anna@kommun.se.", '"anna@kommun.se." is not an e-mail address: the part after the @ must be a domain such as kommun.se'),
        ("anna@-kommun.se", '"anna@-kommun.se" is not an e-mail address: the part after the @ must be a domain such as kommun.se'),
        ("anna@kom_mun.se", '"anna@kom_mun.se" is not an e-mail address: the part after the @ cannot contain "_"'),
        ("anna(x)@kommun.se", '"anna(x)@kommun.se" is not an e-mail address: the part before the @ cannot contain "("'),
        ("anna..berg@kommun.se", '"anna..berg@kommun.se" is not an e-mail address: the part before the @ cannot start or end with a dot or have two dots in a row'),
        (".anna@kommun.se", '".anna@kommun.se" is not an e-mail address: the part before the @ cannot start or end with a dot or have two dots in a row'),
        ("a@b@kommun.se", '"a@b@kommun.se" is not an e-mail address: it has more than one @'),
        ("anna berg@kommun.se", '"anna berg@kommun.se" is not an e-mail address: it must not contain spaces'),
        ("anna\t@kommun.se", '"anna<U+0009>@kommun.se" is not an e-mail address: it must not contain spaces'),
        ("Anna Berg <anna.berg@kommun.se>", '"Anna Berg <anna.berg@kommun.se>" is not an e-mail address: give the address alone: anna.berg@kommun.se'),
        ("a@kommun.se, b@kommun.se", '"a@kommun.se, b@kommun.se" is more than one e-mail address; give one'),
        ("a@kommun.se;b@kommun.se", '"a@kommun.se;b@kommun.se" is more than one e-mail address; give one'),
        ("anna@kommun.se\x00", "contains a control character (U+0000); remove it"),
        ("anna@kommun.se\u202e", "contains a hidden text-direction character (U+202E); remove it"),
        (f"{'a' * 245}@kommun.se", "is longer than 254 characters"),
    ],
)
def test_parse_email_refuses(text, message):
    assert refusal(parse_email, text) == message
