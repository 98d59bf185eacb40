"""Tests for bot.validation: what each bad input a caseworker might type is told, word for word."""


import pytest

from bot.validation import (
    clean_name,
    clean_text,
    parse_id,
)

PARTICIPANT_HINT = "use the number from: stegvis participant list"


def refusal(parse, *args, **kwargs) -> str:
    with pytest.raises(ValueError) as excinfo:
        parse(*args, **kwargs)
    return str(excinfo.value)


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

