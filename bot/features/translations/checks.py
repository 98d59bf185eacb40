"""Is an imported file's every entry acceptable? Each problem is one line that names the file's line.

An entry must translate a text Stegvis uses (the Swedish exactly as exported), keep the Swedish
``{placeholders}``, have every plural form the language has (Babel's count, as
``python -m locales.update`` writes it), stay within its length limit (`texts`), and use no letters of
another of our scripts (Arabic pasted into the Tigrinya file). An empty translation is left out (not translated yet), not a problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from babel.messages.plurals import get_plural

from bot.features.translations.files import Current, Entry, ReadFile
from bot.features.translations.texts import TextToTranslate
from locales.catalogs import placeholders
from locales.languages import LANGUAGES, SOURCE_LANGUAGE

_FIELD = re.compile(r"\{[^{}]*\}")


def language_problem(read: ReadFile, expected: str | None, where: str) -> str | None:
    """Why the file's language is not one to import (None: it is fine)."""
    line = f"{where} line {read.language_line}" if read.language_line else where
    if read.language is None:
        return f"{where}: the file does not say its language (po: a Language: header; XLSX: cell B1): export it with stegvis translations export --language CODE"
    if read.language == SOURCE_LANGUAGE:
        return f"{line}: the file is in Swedish ({SOURCE_LANGUAGE}), the source language: change the Swedish in the flows and the code instead"
    if read.language not in LANGUAGES:
        return f"{line}: the file is in {read.language!r}, which Stegvis does not speak: use one of {' '.join(c for c in LANGUAGES if c != SOURCE_LANGUAGE)}"
    if expected is not None and read.language != expected:
        return f"{line}: the file is in {read.language}, not {expected}"
    forms = get_plural(read.language).num_plurals
    if read.declared_plurals is not None and read.declared_plurals != forms:
        return f"{line}: the Plural-Forms header says nplurals={read.declared_plurals}; {read.language} has {forms} plural forms (Babel): keep the header the export wrote"
    return None


def entry_problems(
    read: ReadFile, texts: Mapping[str, TextToTranslate], current: Mapping[str, Mapping[str, Current]], line_word: str = "line"
) -> list[str]:
    """Every problem of every entry, in the file's order."""
    code = read.language
    assert code is not None
    language = LANGUAGES[code]
    forms = get_plural(code).num_plurals
    # Letters of another of our scripts (Arabic in the Tigrinya file, Ge'ez in the Somali one) mean
    # the text was pasted into the wrong file. Latin is left alone: names and SFI are Latin everywhere.
    latin = LANGUAGES[SOURCE_LANGUAGE].letters
    others = {other.letters for other in LANGUAGES.values()} - {language.letters, latin}
    foreign = re.compile("[" + "".join(others) + "]") if others else None
    found: list[str] = []
    for entry in read.entries:
        at = f"{line_word} {entry.line}: {_short(entry.msgid)}"
        text = texts.get(entry.msgid)
        if text is None:
            found.append(f"{at}: is not a text Stegvis uses (the Swedish must stay exactly as exported; export again if it changed)")
            continue
        if (text.plural is None) != (entry.plural is None) or (text.plural is not None and text.plural != entry.plural):
            found.append(f"{at}: its plural Swedish text differs from Stegvis's ({text.plural!r}): export again")
            continue
        if not any(entry.strings) or entry.fuzzy:
            continue  # not translated yet: left as it is
        if text.plural is not None:
            empty = [index for index, string in enumerate(entry.strings) if not string]
            if len(entry.strings) != forms or empty:
                missing = ", ".join(str(i) for i in (empty or range(len(entry.strings), forms)))
                found.append(f"{at}: has {len([s for s in entry.strings if s])} of the {forms} plural forms {code} needs (missing: form {missing})")
                continue
        source = placeholders(text.msgid) | (placeholders(text.plural) if text.plural else set())
        for index, string in enumerate(entry.strings):
            form = f" form {index}" if text.plural is not None else ""
            try:
                fields = placeholders(string)
            except ValueError as error:
                found.append(f"{at}{form}: broken placeholder ({error}); write {{name}} with both braces")
                continue
            expected = source - {"n"} if text.plural is not None else source
            got = fields - {"n"} if text.plural is not None else fields
            if got != expected:
                found.append(f"{at}{form}: placeholders {_fields(got)} differ from the Swedish {_fields(expected)}")
            if foreign is not None and foreign.search(_FIELD.sub("", string)):
                found.append(f"{at}{form}: is written in another script than {language.native_name} ({code}): is it the right file?")
            length = len(string) if not text.together else _together(entry.msgid, code, string, current)
            if length > text.limit:
                what = "with all languages together" if text.together else ""
                found.append(f"{at}{form}: is {length} characters{' ' + what if what else ''}; {_kind(text)} takes at most {text.limit}")
    return found


def _together(msgid: str, code: str, string: str, current: Mapping[str, Mapping[str, Current]]) -> int:
    """The length of the one message that carries the text in every language, with this translation in it."""
    lines = []
    for other in LANGUAGES:
        if other == code:
            lines.append(string)
            continue
        have = current.get(other, {}).get(msgid)
        lines.append(have.strings[0] if have and have.strings and have.strings[0] else msgid)
    return len("\n".join(lines))


def _kind(text: TextToTranslate) -> str:
    return {"button": "a button", "row button": "a button in a row", "done button": "a button", "message": "a message"}.get(text.kind, "this text")


def _fields(fields: set[str]) -> str:
    return "[" + ", ".join("{" + f + "}" for f in sorted(fields)) + "]" if fields else "none"


def _short(msgid: str) -> str:
    first = msgid.splitlines()[0] if msgid else msgid
    return repr(first if len(first) <= 50 else first[:47] + "...")


def duplicate_problems(entries: Sequence[Entry], line_word: str = "line") -> list[str]:
    seen: dict[str, int] = {}
    found = []
    for entry in entries:
        if entry.msgid in seen:
            found.append(f"{line_word} {entry.line}: {_short(entry.msgid)}: appears twice (first on {line_word} {seen[entry.msgid]})")
        seen.setdefault(entry.msgid, entry.line)
    return found
