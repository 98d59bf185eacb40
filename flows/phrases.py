"""The phrase of the week: a short Swedish phrase and the msgid of its meaning, one per ISO week, cycling.

Read from ``flows/phrases.yaml``; the meanings are extracted into the catalogs by `extract_phrases`
(named in ``babel.cfg``), so a meaning without a translation fails ``tests/test_catalogs.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import yaml

PHRASES = Path(__file__).resolve().parent / "phrases.yaml"
MAX_PHRASE = 80  # a phrase is read aloud and practised: a short one
FIRST_MONDAY = date(2000, 1, 3)  # a Monday: week 0 of the cycle


@dataclass(frozen=True)
class Phrase:
    phrase: str  # Swedish, shown as it is
    meaning: str  # a Swedish msgid, shown translated
    line: int


def parse_phrases(source: bytes | str, file: str = "phrases.yaml") -> tuple[Phrase, ...]:
    """The phrases of the file, or a ValueError naming the file, line and what is wrong."""
    root = yaml.compose(source, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode) or [k.value for k, _v in root.value] != ["phrases"]:
        raise ValueError(f"{file}: must be a mapping with the one field phrases")
    items = root.value[0][1]
    if not isinstance(items, yaml.SequenceNode) or not items.value:
        raise ValueError(f"{file}:{items.start_mark.line + 1}: phrases: must be a list of at least one phrase")
    found = []
    for index, item in enumerate(items.value):
        line = item.start_mark.line + 1
        fields = {k.value: v for k, v in item.value} if isinstance(item, yaml.MappingNode) else {}
        if set(fields) != {"phrase", "meaning"} or not all(isinstance(v, yaml.ScalarNode) and str(v.value).strip() for v in fields.values()):
            raise ValueError(f"{file}:{line}: phrases[{index}]: needs exactly the texts phrase and meaning")
        phrase, meaning = str(fields["phrase"].value).strip(), str(fields["meaning"].value).strip()
        if len(phrase) > MAX_PHRASE:
            raise ValueError(f"{file}:{line}: phrases[{index}].phrase: is {len(phrase)} characters; at most {MAX_PHRASE}")
        if "{" in meaning or "}" in meaning:
            raise ValueError(f"{file}:{line}: phrases[{index}].meaning: braces are not allowed (it is filled into the flow's text)")
        found.append(Phrase(phrase, meaning, fields["meaning"].start_mark.line + 1))
    return tuple(found)


@lru_cache(maxsize=1)
def shipped() -> tuple[Phrase, ...]:
    return parse_phrases(PHRASES.read_bytes(), str(PHRASES))


def of_week(monday: date, phrases: tuple[Phrase, ...] | None = None) -> Phrase:
    """The phrase of the ISO week starting on `monday`: the list in order, week after week, then again."""
    listed = shipped() if phrases is None else phrases
    weeks = (monday - FIRST_MONDAY) // timedelta(days=7)
    return listed[weeks % len(listed)]


def extract_phrases(fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any) -> Iterator[tuple[int, None, str, list[str]]]:
    """Babel extraction method for ``flows/phrases.yaml``: every meaning, with the phrase it explains."""
    for phrase in parse_phrases(fileobj.read(), getattr(fileobj, "name", "phrases.yaml")):
        yield phrase.line, None, phrase.meaning, [f"the meaning of the phrase of the week «{phrase.phrase}»"]
