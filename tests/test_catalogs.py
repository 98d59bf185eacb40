"""Every text a participant can see exists in all five languages, with the Swedish placeholders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po

from locales import LANGUAGES, Catalogs
from locales.catalogs import catalog_path
from locales.check import SourceText, problems, source_texts, unreviewed
from locales.format import FSI, PDI
from bot.features.participants.newcomers import BAD_LINK, NO_LINK, REFUSED
from tests.harness import help_text_for


def test_every_source_text_is_translated_in_all_five_languages():
    assert problems() == []


def test_the_sources_have_texts_from_flows_and_from_code():
    wheres = {text.where.split(":")[0] for text in source_texts()}
    assert any(where.endswith(".yaml") for where in wheres)
    assert any(where.endswith(".py") for where in wheres)


def test_drafts_are_listed_as_unreviewed_except_the_swedish_source():
    report = unreviewed()
    assert report["sv"] == []
    for code in ("ar", "so", "fa_AF", "ti"):
        assert len(report[code]) == len(source_texts())


@pytest.fixture
def catalog_copy(tmp_path: Path) -> Path:
    for code in LANGUAGES:
        target = catalog_path(code, tmp_path)
        target.parent.mkdir(parents=True)
        shutil.copy(catalog_path(code), target)
    return tmp_path


def _edit(directory: Path, code: str, change) -> None:
    path = catalog_path(code, directory)
    with path.open("rb") as po:
        catalog = read_po(po, locale=code)
    change(catalog)
    with path.open("wb") as po:
        write_po(po, catalog)


def test_a_missing_translation_fails(catalog_copy: Path):
    _edit(catalog_copy, "ti", lambda c: setattr(c["Välj språk."], "string", ""))
    found = [p for p in problems(catalog_copy) if "Välj språk." in p]
    assert len(found) == 1
    assert found[0].startswith("ti: 'Välj språk.' (flows/engine.py:") and found[0].endswith("): not translated")


def test_a_message_missing_from_a_catalog_fails(catalog_copy: Path):
    _edit(catalog_copy, "so", lambda c: c.delete("Nej"))
    assert any(p.startswith("so: 'Nej'") and p.endswith("missing from the catalog") for p in problems(catalog_copy))


def test_a_missing_catalog_fails(catalog_copy: Path):
    catalog_path("fa_AF", catalog_copy).unlink()
    assert any(p.startswith("fa_AF: no catalog") for p in problems(catalog_copy))


def test_a_placeholder_that_differs_from_the_swedish_fails(catalog_copy: Path):
    help_id = next(t.msgid for t in source_texts() if isinstance(t.msgid, str) and "{caseworker}" in t.msgid)
    _edit(catalog_copy, "ar", lambda c: setattr(c[help_id], "string", c[help_id].string.replace("{caseworker}", "{handläggare}")))
    assert any("placeholders ['handläggare'] differ from the Swedish ['caseworker']" in p for p in problems(catalog_copy))


def test_a_missing_arabic_plural_form_fails(catalog_copy: Path):
    plural = SourceText(("Om {n} dag.", "Om {n} dagar."), "test")

    def add(catalog):
        catalog.add(plural.msgid, ["a", "b", "c", "d", "e"])  # Arabic needs six forms

    _edit(catalog_copy, "ar", add)
    found = [p for p in problems(catalog_copy, [plural]) if p.startswith("ar:")]
    # Babel pads a short list of forms, so the sixth shows up as untranslated.
    assert found == ["ar: 'Om {n} dag.' (test) form 5: not translated"]


def test_arabic_has_six_plural_forms_in_its_header():
    with catalog_path("ar").open("rb") as po:
        assert read_po(po, locale="ar").num_plurals == 6


def test_a_latin_name_in_an_arabic_text_is_isolated():
    texts = Catalogs().texts("ar")
    help_text = help_text_for(Catalogs(), "ar", "Karin Lund")
    assert f"{FSI}Karin Lund{PDI}" in help_text
    assert f"{FSI}/stop{PDI}" in help_text and f"{FSI}Stegvis{PDI}" in help_text


def test_a_left_to_right_language_gets_no_isolates():
    assert FSI not in Catalogs().texts("so").gettext("Hej {name}!", name="Amina")


@pytest.mark.parametrize("msgid", [NO_LINK, BAD_LINK, *REFUSED.values()])
def test_messages_to_people_without_an_invite_fit_in_a_first_message(msgid: str):
    assert len(Catalogs().in_all_languages(msgid)) <= 200
