"""A sixth language is one line in ``locales.languages.LANGUAGES`` and its catalog: tried with English.

The catalogs are copied to a temporary folder and an English catalog is added there; the one
list gets its line for the test's duration (pytest's monkeypatch sets and restores the real
dict). The catalog check passes only once English is complete, the language picker shows it, the
flows speak it, and the input parsers take its code. English is not shipped: with six languages
the first message to someone without an invite would be longer than 200 characters (asserted at
the end), and the picker would be at its six-button limit.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from bot.features.participants.newcomers import REFUSED
from flows.engine import Engine, Press
from flows.library import load_flows
from locales import LANGUAGES, Catalogs
from locales.catalogs import catalog_path
from locales.check import problems, source_catalog
from locales.languages import Language, guess_from_telegram, parse_language, picker_order

ENGLISH = Language("en", "English", "en", "en", rtl=False, swedish_name="engelska")
DRAFTS = {"Nu skriver jag på svenska.": "Now I am writing in English.", "Välj språk.": "Choose a language."}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for code in LANGUAGES:
        target = catalog_path(code, tmp_path)
        target.parent.mkdir(parents=True)
        shutil.copy(catalog_path(code), target)
    return tmp_path


def write_english(folder: Path, *, leave_out: str | None = None) -> None:
    """An English catalog with a draft of every text (the Swedish where no English is given), flagged unreviewed."""
    catalog = Catalog(locale="en", domain="stegvis")
    for message in source_catalog():
        if not message.id or message.id == leave_out:
            continue
        if isinstance(message.id, tuple):
            catalog.add(message.id, (message.id[0], message.id[1]), flags={"unreviewed"})
        else:
            catalog.add(message.id, DRAFTS.get(message.id, message.id), flags={"unreviewed"})
    path = catalog_path("en", folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as po:
        write_po(po, catalog, width=0)


@pytest.fixture
def with_english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(LANGUAGES, "en", ENGLISH)  # the one line of configuration


def test_a_sixth_language_passes_the_check_only_when_its_catalog_is_complete(folder: Path, with_english: None) -> None:
    assert problems(folder) == [f"en: no catalog at {catalog_path('en', folder)}"]
    write_english(folder, leave_out="Välj språk.")
    [missing] = problems(folder)
    assert missing.startswith("en: 'Välj språk.' (flows/engine.py:") and missing.endswith("): missing from the catalog")
    write_english(folder)
    assert problems(folder) == []


def test_the_picker_shows_a_sixth_language_and_the_flows_speak_it(folder: Path, with_english: None) -> None:
    write_english(folder)
    engine = Engine(load_flows(), Catalogs(folder))
    [picker] = engine.start("language", language="sv").messages
    assert [row[0].label for row in picker.buttons] == ["Svenska", "العربية", "Soomaali", "دری", "ትግርኛ", "English"]
    assert picker.text.splitlines()[-1] == "Choose a language."
    chosen = engine.resume(engine.start("language", language="sv").state, Press("s:language:pick:en"), language="sv")
    assert chosen.language == "en" and chosen.events[0].payload == {"language": "en"}
    assert [m.text for m in chosen.messages] == ["Now I am writing in English."]
    assert (parse_language("EN").code, guess_from_telegram("en-GB"), picker_order("en")[0].code) == ("en", "en", "en")


def test_without_its_line_a_catalog_alone_is_not_a_language(folder: Path) -> None:
    write_english(folder)
    assert problems(folder) == []  # not checked, not offered
    [picker] = Engine(load_flows(), Catalogs(folder)).start("language", language="sv").messages
    assert "English" not in [row[0].label for row in picker.buttons]


def test_six_languages_would_make_the_first_message_too_long(folder: Path, with_english: None) -> None:
    write_english(folder)
    english = Catalogs(folder)
    # The Swedish stands in for English here; real English is about as long.
    assert len(english.in_all_languages(REFUSED["chat_taken"])) > 200
