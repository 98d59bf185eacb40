"""Tests for bot.validation: what each bad input a caseworker might type is told, word for word."""


import pytest

from bot.validation import (
    clean_name,
    clean_text,
)


def refusal(parse, *args, **kwargs) -> str:
    with pytest.raises(ValueError) as excinfo:
        parse(*args, **kwargs)
    return str(excinfo.value)


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

