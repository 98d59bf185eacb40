"""The translators' files: export in flow order (po and XLSX) with flow, step, note and limit; an
import checked whole (wrong language, placeholder, plural form, length, script, unknown text: each
its error with its line, and nothing stored); accepted translations live in a running bot
without a restart; ``stegvis translations status``; the CLI's exit codes."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.features.participants.commands import HELP_CONTACT
from bot.features.participants.newcomers import NO_LINK
from bot.features.translations import checks, files, services
from bot.features.translations.texts import TextToTranslate, texts_in_order
from bot.services import Actor, InvalidInput
from flows.library import load_flows
from locales import Catalogs
from storage import translations as stored
from storage.clock import FrozenClock
from storage.database import Database
from tests.harness import BotHarness, start_bot
from tests.test_activities_cli import db, ok, stegvis, template  # noqa: F401 - fixtures
from tests.test_appointments_cli import error_of

NOW = datetime(2027, 2, 8, 9, 0, tzinfo=timezone.utc)
STAFF = Actor("cli", "test")
DONE_TI = "Nu skriver jag på svenska."  # the language flow's last step
TEXTS = texts_in_order()
PLURAL = "Idag har du {n} träff:"  # the morning question of a day with several sessions


async def export(database: Database, code: str, format: str = "po") -> bytes:
    async with database.sessions() as session:
        return (await services.export_translations(session, STAFF, language=code, format=format, now=NOW)).content


async def import_(database: Database, name: str, data: bytes, language: str | None = None) -> services.ImportResult:
    async with database.sessions() as session:
        result = await services.import_translations(session, STAFF, name=name, data=data, now=NOW, language=language)
        await session.commit()
    return result


async def refused(database: Database, name: str, data: bytes, language: str | None = None) -> InvalidInput:
    with pytest.raises(InvalidInput) as error:
        await import_(database, name, data, language)
    async with database.sessions() as session:  # and nothing was stored
        assert await stored.latest_revision(session) == 0 and await stored.all_imported(session) == {}
    return error.value


def with_msgstr(po: bytes, msgid: str, string: str) -> tuple[bytes, int]:
    """The po file with one translation changed, and the line of its msgid."""
    lines = po.decode().split("\n")
    at = lines.index(f'msgid "{_escaped(msgid)}"')
    assert lines[at + 1].startswith("msgstr ")
    lines[at + 1] = f'msgstr "{_escaped(string)}"'
    return "\n".join(lines).encode(), at + 1


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def comments_of(po: bytes, msgid: str) -> list[str]:
    lines = po.decode().split("\n")
    at = lines.index(f'msgid "{_escaped(msgid)}"')
    above = []
    for line in reversed(lines[:at]):
        if not line.startswith("#"):
            break
        above.insert(0, line)
    return above


# ---- export ------------------------------------------------------------------------------------


async def test_a_po_export_is_in_flow_order_with_flow_step_note_and_limit_beside_each_text(sqlite_database: Database) -> None:
    po = await export(sqlite_database, "ti")
    assert re.search(rb'^"Language: ti\\n"$', po, re.MULTILINE) and b'"Plural-Forms: nplurals=2; plural=(n > 1);\\n"' in po
    msgids = [m.id if isinstance(m.id, str) else m.id[0] for m in read_po(io.BytesIO(po)) if m.id]
    texts = TEXTS
    assert msgids == [t.msgid for t in texts]
    # Flow by flow, step by step as written (each message, then its buttons), then the code's texts.
    flows = load_flows()
    first = flows[min(flows)]
    step = next(iter(first.steps.values()))
    assert msgids[: 1 + len(step.buttons)] == [step.say, *(b.label for b in step.buttons)]
    kinds = [t.flow is None for t in texts]
    assert kinds == sorted(kinds)  # no flow text after a code text
    assert comments_of(po, "Inte den här veckan") == [
        "#. flow step: checkin.practice (button)",
        "#. Note: A button: aim for 20 characters.",
        "#. Limit: at most 40 characters",
        "#, unreviewed",
    ]
    assert comments_of(po, "😐")[2] == "#. Limit: at most 12 characters"  # a row of buttons
    # Babel wraps long comments; a translator's tool joins them again.
    assert " ".join(line.removeprefix("#. ") for line in comments_of(po, HELP_CONTACT)) == (
        "code: bot/features/participants/commands.py:37 (text) Note: A message or part of one, written in the code. "
        "Keep {caseworker} exactly as written. Limit: at most 1000 characters #, python-brace-format, unreviewed"
    )
    assert "#. Limit: at most 200 characters with all languages together" in comments_of(po, NO_LINK)


async def test_an_xlsx_export_has_the_same_texts_in_columns_and_says_its_language(sqlite_database: Database) -> None:
    from openpyxl import load_workbook

    data = await export(sqlite_database, "ar", "xlsx")
    sheet = load_workbook(io.BytesIO(data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("Language", "ar", "العربية")
    assert rows[1] == files.COLUMNS
    first = dict(zip(files.COLUMNS, rows[2], strict=True))
    assert (first["Flow"], first["Step"], first["Kind"], first["Swedish"], first["Unreviewed"], first["Limit"]) == (
        "checkin", "practice", "message", "Har du övat svenska den här veckan?", "yes", "at most 1000 characters",
    )
    assert first["Translation"] == Catalogs().texts("ar").gettext("Har du övat svenska den här veckan?")
    # A row per text, and a row per plural form (Arabic has six) of a text that depends on a number.
    assert len(rows) == 2 + sum(6 if t.plural else 1 for t in TEXTS)
    forms = [r for r in rows if r[3] == PLURAL]
    assert [(r[4], r[5]) for r in forms] == [("Idag har du {n} träffar:", form) for form in range(6)]


@pytest.mark.parametrize("format", ["po", "xlsx"])
async def test_an_exported_file_imported_unchanged_is_accepted_and_changes_nothing_a_participant_reads(database: Database, format: str) -> None:
    data = await export(database, "so", format)
    result = await import_(database, f"so.{format}", data)
    assert (result.language, result.revision, result.imported, result.unreviewed, result.left_empty) == ("so", 1, len(TEXTS), len(TEXTS), 0)
    assert await export(database, "so", format) == data


# ---- import: every problem with its line, and nothing stored ------------------------------------


async def test_a_file_in_the_wrong_language_is_refused(sqlite_database: Database) -> None:
    po = await export(sqlite_database, "ar")
    line = po.decode().split("\n").index('"Language: ar\\n"') + 1
    assert (await refused(sqlite_database, "ar.po", po, language="ti")).message == f"ar.po line {line}: the file is in ar, not ti"
    english = po.replace(b'"Language: ar\\n"', b'"Language: en\\n"')
    assert (await refused(sqlite_database, "en.po", english)).message == f"en.po line {line}: the file is in 'en', which Stegvis does not speak: use one of ar so fa_AF ti"
    swedish = po.replace(b'"Language: ar\\n"', b'"Language: sv\\n"')
    assert (await refused(sqlite_database, "sv.po", swedish)).message == (
        f"sv.po line {line}: the file is in Swedish (sv), the source language: change the Swedish in the flows and the code instead"
    )
    unsaid = po.replace(b'"Language: ar\\n"\n', b"")
    assert (await refused(sqlite_database, "x.po", unsaid)).message.startswith("x.po: the file does not say its language")
    # Arabic pasted into the Tigrinya file.
    ti, line = with_msgstr(await export(sqlite_database, "ti"), "Lite", "قليلًا")
    error = await refused(sqlite_database, "ti.po", ti)
    assert error.problems == [f"line {line}: 'Lite': is written in another script than ትግርኛ (ti): is it the right file?"]


async def test_a_placeholder_that_differs_from_the_swedish_is_refused_with_its_line(sqlite_database: Database) -> None:
    ar = await export(sqlite_database, "ar")
    now_ar = Catalogs().texts("ar")._translations.gettext(HELP_CONTACT)
    changed, line = with_msgstr(ar, HELP_CONTACT, now_ar.replace("{caseworker}", "{handläggare}"))
    error = await refused(sqlite_database, "ar.po", changed)
    assert error.message == "ar.po: 1 problem; nothing was imported" and error.field == "file"
    assert error.problems == [f"line {line}: 'Frågor? Kontakta din handläggare {{caseworker}}.': placeholders [{{handläggare}}] differ from the Swedish [{{caseworker}}]"]
    broken, line = with_msgstr(ar, HELP_CONTACT, "{caseworker")
    assert (await refused(sqlite_database, "ar.po", broken)).problems[0].startswith(f"line {line}: 'Frågor? Kontakta din handläggare {{caseworker}}.': broken placeholder (")


async def test_a_text_longer_than_its_limit_is_refused_with_its_line(sqlite_database: Database) -> None:
    so = await export(sqlite_database, "so")
    long, line = with_msgstr(so, "Inte den här veckan", "Toddobaadkan kuma aanan tababarin gabi ahaanba")
    assert (await refused(sqlite_database, "so.po", long)).problems == [f"line {line}: 'Inte den här veckan': is 46 characters; a button takes at most 40"]
    face, line = with_msgstr(so, "😄 Bra", "😄 Aad iyo aad u fiican")
    assert (await refused(sqlite_database, "so.po", face)).problems == [f"line {line}: '😄 Bra': is 22 characters; a button in a row takes at most 12"]
    first, line = with_msgstr(so, NO_LINK, "Fadlan weydii shaqaalahaaga xiriirka cusub, kaas oo ah link aad ku soo gasho Stegvis, si aad u hesho xusuusinta iyo su'aalaha.")
    [problem] = (await refused(sqlite_database, "so.po", first)).problems
    assert re.fullmatch(rf"line {line}: 'Be din handläggare om en länk.': is 2\d\d characters with all languages together; this text takes at most 200", problem)


async def test_a_missing_plural_form_is_refused_with_its_line(sqlite_database: Database) -> None:
    ar = (await export(sqlite_database, "ar")).decode().split("\n")
    line = ar.index(f'msgid "{PLURAL}"') + 1
    sixth = next(i for i in range(line, len(ar)) if ar[i].startswith("msgstr[5]"))
    without = "\n".join(ar[:sixth] + ar[sixth + 1 :]).encode()
    assert (await refused(sqlite_database, "ar.po", without)).problems == [f"line {line}: 'Idag har du {{n}} träff:': has 5 of the 6 plural forms ar needs (missing: form 5)"]


async def test_a_plural_form_missing_from_a_hand_made_file_is_refused_and_a_wrong_header_too() -> None:
    po = b'''msgid ""
msgstr ""
"Language: ar\\n"
"Plural-Forms: nplurals=6; plural=(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 : n%100>=11 ? 4 : 5);\\n"

msgid "Om {n} dag."
msgid_plural "Om {n} dagar."
msgstr[0] "a {n}"
msgstr[1] "b"
msgstr[2] "c {n}"
msgstr[3] "d {n}"
msgstr[4] "e {n}"
'''
    read = files.read_po_file(po)
    assert checks.language_problem(read, None, "ar.po") is None
    plural = TextToTranslate("Om {n} dag.", "Om {n} dagar.", None, None, "text", 1000, False, "", "test")
    assert checks.entry_problems(read, {plural.msgid: plural}, {}) == ["line 6: 'Om {n} dag.': has 5 of the 6 plural forms ar needs (missing: form 5)"]
    wrong_header = files.read_po_file(po.replace(b"nplurals=6", b"nplurals=5"))
    assert checks.language_problem(wrong_header, None, "ar.po") == (
        "ar.po line 3: the Plural-Forms header says nplurals=5; ar has 6 plural forms (Babel): keep the header the export wrote"
    )


async def test_one_bad_entry_among_good_ones_changes_nothing_and_every_problem_is_listed(sqlite_database: Database) -> None:
    ti = await export(sqlite_database, "ti")
    good, _ = with_msgstr(ti, DONE_TI, "ሕጂ ብትግርኛ እጽሕፈልካ ኣለኹ።")
    bad, line = with_msgstr(good, "Lite", "ቁሩብ {n}")
    unknown = bad + '\nmsgid "Ingen sådan text."\nmsgstr "ኣይፋል"\n'.encode()
    error = await refused(sqlite_database, "ti.po", unknown)
    last = len(unknown.decode().split("\n")) - 2
    assert error.message == "ti.po: 2 problems; nothing was imported"
    assert error.problems == [
        f"line {line}: 'Lite': placeholders [{{n}}] differ from the Swedish none",
        f"line {last}: 'Ingen sådan text.': is not a text Stegvis uses (the Swedish must stay exactly as exported; export again if it changed)",
    ]


async def test_an_xlsx_problem_names_its_row(sqlite_database: Database) -> None:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(await export(sqlite_database, "fa_AF", "xlsx")))
    sheet = book.active
    row = next(r for r in range(3, sheet.max_row + 1) if sheet.cell(r, 4).value == HELP_CONTACT)
    sheet.cell(row, 7).value = "سوالات؟ با مددکار تان تماس بگیرید."
    out = io.BytesIO()
    book.save(out)
    error = await refused(sqlite_database, "fa.xlsx", out.getvalue())
    assert error.problems == [f"row {row}: 'Frågor? Kontakta din handläggare {{caseworker}}.': placeholders none differ from the Swedish [{{caseworker}}]"]
    sheet["B1"].value = "so"
    out = io.BytesIO()
    book.save(out)
    assert (await refused(sqlite_database, "fa.xlsx", out.getvalue(), language="fa_AF")).message == "fa.xlsx line 1: the file is in so, not fa_AF"
    assert (await refused(sqlite_database, "notes.xlsx", b"PK\x03\x04 not a workbook")).message.startswith("notes.xlsx: not an XLSX workbook Stegvis can read:")


# ---- live without a restart, and the unreviewed state ------------------------------------------


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[BotHarness]:
    async with start_bot(tmp_path, clock=FrozenClock(NOW)) as running:
        yield running


async def test_an_accepted_import_is_live_in_the_running_bot_and_keeps_its_review_state(harness: BotHarness) -> None:
    senait, _ = await harness.joined("Senait Tesfay", "ti")
    before = Catalogs().texts("ti").gettext(DONE_TI)
    newer = "ሕጂ ብትግርኛ እጽሕፈልካ ኣለኹ።"
    ti, line = with_msgstr(await export(harness.database, "ti"), DONE_TI, newer)
    ti = ti.replace('#, unreviewed\nmsgid "Nu skriver jag'.encode(), 'msgid "Nu skriver jag'.encode())  # a translator checked it
    result = await import_(harness.database, "ti.po", ti)
    assert (result.imported, result.unreviewed) == (len(TEXTS), len(TEXTS) - 1)
    # The running bot's live-content poll reads it (every two seconds); poll now rather than wait.
    await harness.stegvis.live.poll(harness.stegvis)
    await senait.send("/language")
    await senait.next_reply()
    await senait.press("ትግርኛ")
    assert (await senait.next_reply()).text == newer != before
    async with harness.database.sessions() as session:
        status = await services.translation_status(session, STAFF)
    ti_status = next(s for s in status.languages if s.language == "ti")
    assert (ti_status.translated, ti_status.unreviewed, ti_status.missing) == (status.texts, status.texts - 1, 0)
    assert comments_of(await export(harness.database, "ti"), DONE_TI)[-1] == "#. Limit: at most 1000 characters"  # no longer unreviewed


async def test_status_counts_translated_unreviewed_and_missing(sqlite_database: Database) -> None:
    so = await export(sqlite_database, "so")
    emptied, _ = with_msgstr(so, "Lite", "")
    result = await import_(sqlite_database, "so.po", emptied)
    assert result.left_empty == 1  # not translated yet: left as it is, not a problem
    async with sqlite_database.sessions() as session:
        status = await services.translation_status(session, STAFF)
    assert [(s.language, s.translated, s.missing) for s in status.languages] == [(code, status.texts, 0) for code in ("ar", "so", "fa_AF", "ti")]


# ---- the command line --------------------------------------------------------------------------


def test_the_commands_export_import_and_status(db: Path) -> None:  # noqa: F811
    assert stegvis(db, "translations", "export", "--language", "ti", "--output", "ti.po").returncode == 0
    text = (db / "ti.po").read_text()
    (db / "bad.po").write_text(text.replace('msgstr "ብዙሕ"', 'msgstr "ብዙሕ {name}"', 1))
    line = (db / "bad.po").read_text().split("\n").index('msgid "Mycket"') + 1
    assert error_of(stegvis(db, "translations", "import", "bad.po", "--json")) == {
        "error": "bad.po: 1 problem; nothing was imported",
        "problems": [f"line {line}: 'Mycket': placeholders [{{name}}] differ from the Swedish none"],
    }
    assert ok(db, "translations", "import", "ti.po")["imported"] == len(TEXTS)
    assert error_of(stegvis(db, "translations", "export", "--language", "en", "--json")) == {"error": "--language: unknown language 'en': use one of sv ar so fa_AF ti (prs for Dari)"}
    assert error_of(stegvis(db, "translations", "export", "--language", "sv", "--json")) == {"error": "--language: sv is the source language: its texts are the Swedish in the flows and the code"}
    assert error_of(stegvis(db, "translations", "export", "--language", "ti", "--format", "xlsx", "--json")) == {"error": "--format: xlsx needs --output FILE"}
    assert error_of(stegvis(db, "translations", "import", "missing.po", "--json"))["error"].startswith("missing.po: cannot be read")
    shown = stegvis(db, "translations", "status").stdout.splitlines()
    assert shown[0].split() == ["language", "translated", "unreviewed", "missing", "of", str(len(TEXTS)), "texts"]
    assert shown[4].split() == ["ti", "ትግርኛ", str(len(TEXTS)), str(len(TEXTS)), "0"]
