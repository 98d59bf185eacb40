"""Parsing and checking what caseworkers type: ids, dates and times, names, places, e-mail addresses.

Shared by the CLI, the CSV import and (later) a web console, so the same input gets the same
answer everywhere. Every refusal is a ``ValueError`` whose text is the reason only, in plain
words; the caller adds where the input came from (``--at: ``, ``line 3: date: ``). Nothing here
reads the clock or the network: functions that need the time take ``now``.
"""

from __future__ import annotations

import unicodedata


MAX_TEXT = 200
# SQLite stores integers in 64 bits; a larger id fails deep inside the driver.
MAX_ID = 2**63 - 1

# They reorder how the text around them is shown, so a name or place can display as something
# other than what is stored (the "Trojan Source" trick) and can scramble the CLI's tables.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Control characters that str.split() treats as white space, but that no one types on purpose.
_CONTROL_SPACE = frozenset("\x1c\x1d\x1e\x1f\x85")
_LINE_BREAKS = frozenset("\n\r\v\f\u2028\u2029")
_SHOWN_MAX = 60

_ID_HINTS = {
    "participant": "use the number from: stegvis participant list",
    "appointment": "use the number from: stegvis appointment list",
}
_ID_HINT = "use a whole number, e.g. 7"


# Ids


def parse_id(text: str, what: str | None = "participant") -> int:
    """A database id, 1 to 2**63-1, in ASCII digits; ``what`` (e.g. "appointment") names it.

    ``what=None`` gives the CLI's generic wording ("is not an id").
    """
    if not text:
        raise ValueError("must not be empty")
    name = f"{_article(what)} {what} id" if what else "an id"
    hint = _ID_HINTS.get(what or "", _ID_HINT)
    if not text.isdecimal():
        raise ValueError(f"{_quoted(text)} is not {name}; {hint}")
    if not text.isascii():
        # An Arabic or Persian keyboard types ٣ or ۳ for 3; say so rather than just "not an id".
        raise ValueError(f"{_quoted(text)} is not {name}; type it with the digits 0-9")
    digits = text.lstrip("0")
    if not digits:
        raise ValueError(f"{_quoted(text)} is not {name}; ids start at 1")
    # Compare lengths before int(): Python refuses to convert more than 4300 digits.
    if len(digits) > len(str(MAX_ID)) or int(digits) > MAX_ID:
        raise ValueError(f"{_quoted(text)} is too large to be {name}; {hint}")
    return int(digits)


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


# Names, places, titles


def clean_name(text: str) -> str:
    """A person's name on one line, in any script; spaces and tabs inside are collapsed to one space."""
    value = text or ""
    if any(character in _LINE_BREAKS for character in value.strip()):
        raise ValueError("must be on one line")
    name = _one_line(value)
    if not name:
        raise ValueError("must not be empty")
    if not any(unicodedata.category(character).startswith("L") for character in name):
        raise ValueError("must contain at least one letter")
    return name


def clean_text(value: str | None, *, required: bool) -> str | None:
    """Place or title on one line: runs of white space (a CSV cell's newlines too) become one space."""
    text = _one_line(value or "")
    if not text and required:
        raise ValueError("must not be empty")
    return text or None


def _one_line(value: str) -> str:
    _check_characters(value)
    # After _check_characters, the only white space split() still sees is the ordinary kind.
    text = " ".join(value.split())
    if len(text) > MAX_TEXT:
        raise ValueError(f"is longer than {MAX_TEXT} characters")
    return text


def _check_characters(value: str) -> None:
    for character in value:
        problem = _character_problem(character)
        if problem:
            raise ValueError(f"contains {problem} (U+{ord(character):04X}); remove it")


def _character_problem(character: str) -> str | None:
    if character in _BIDI:
        return "a hidden text-direction character"
    category = unicodedata.category(character)
    if category == "Cs":
        # What Python makes of bytes that are not UTF-8, e.g. from a terminal set to Latin-1.
        return "a character that is not valid text"
    if category == "Cc" and (character in _CONTROL_SPACE or not character.isspace()):
        return "a control character"
    return None


# Showing what was typed


def _quoted(text: str) -> str:
    """``text`` in double quotes for a message, with invisible characters as <U+XXXX> and long text cut."""
    shown = "".join(f"<U+{ord(character):04X}>" if _character_problem(character) or (character.isspace() and character != " ") else character for character in text[:_SHOWN_MAX])
    return f'"{shown}…"' if len(text) > _SHOWN_MAX else f'"{shown}"'
