"""The translators' files: one language's texts as a gettext ``.po`` file or an XLSX workbook, and back.

Both say their language (the po header ``Language:``; the workbook's cell B1) and carry, beside
each text, its flow and step, the Swedish, a note for the translator and its length limit (po:
extracted comments ``#.``; XLSX: columns). A draft is marked ``#, unreviewed`` (po) or ``yes`` in
the *Unreviewed* column; a translator who has checked it removes the mark.

Reading a file gives its entries with the line (po) or row (XLSX) each starts on, so every
problem can be pointed at; whether the entries are acceptable is for `checks`.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from babel.messages.catalog import Catalog
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po, write_po

from bot.features.translations.texts import TextToTranslate
from locales.catalogs import DOMAIN
from locales.check import UNREVIEWED
from locales.languages import LANGUAGES

# Columns of the workbook, by their header (row 2); rows of texts begin at row 3.
FLOW, STEP, KIND, SWEDISH, SWEDISH_PLURAL, FORM, TRANSLATION, DRAFT, LIMIT, NOTE, WHERE = (
    "Flow", "Step", "Kind", "Swedish", "Swedish plural", "Form", "Translation", "Unreviewed", "Limit", "Note", "Where",
)
COLUMNS = (FLOW, STEP, KIND, SWEDISH, SWEDISH_PLURAL, FORM, TRANSLATION, DRAFT, LIMIT, NOTE, WHERE)
LANGUAGE_CELL = "B1"
YES = "yes"


@dataclass(frozen=True)
class Current:
    """A text's translation as it is now (catalog, or imported on top)."""

    strings: tuple[str, ...]  # empty strings where nothing is translated
    unreviewed: bool


@dataclass(frozen=True)
class Entry:
    """One text of an imported file."""

    line: int  # po: the line of its msgid; XLSX: its (first) row
    msgid: str
    plural: str | None
    strings: tuple[str, ...]
    unreviewed: bool
    fuzzy: bool = False


@dataclass(frozen=True)
class ReadFile:
    language: str | None  # as the file says it, or None when it does not say
    language_line: int | None
    entries: tuple[Entry, ...]
    # The number of plural forms the file's own header declares (po), when it says one.
    declared_plurals: int | None = None


class UnreadableFile(ValueError):
    """Not a po or XLSX file we can read; the message says why."""


# ---- po ----------------------------------------------------------------------------------------


def po_bytes(code: str, texts: Sequence[TextToTranslate], current: dict[str, Current], now: datetime) -> bytes:
    catalog = Catalog(
        locale=code, domain=DOMAIN, project="Stegvis", version="1", creation_date=now, revision_date=now, fuzzy=False,
        header_comment=f"# Stegvis: the texts participants read, to translate into {LANGUAGES[code].native_name} ({code}).\n"
        "# Fill in each msgstr; keep every msgid (the Swedish) as it is. Remove '#, unreviewed' from a\n"
        "# translation you have checked. Import with: stegvis translations import FILE",
        language_team=f"{code}", last_translator="",
    )
    forms = get_plural(code).num_plurals
    for text in texts:
        have = current.get(text.msgid)
        comments = [_where(text), f"Note: {text.note}", f"Limit: {text.limit_text()}"]
        if text.plural is not None:
            strings = tuple(have.strings) if have else ("",) * forms
            catalog.add((text.msgid, text.plural), strings, auto_comments=comments, flags=_flags(have))
        else:
            catalog.add(text.msgid, have.strings[0] if have else "", auto_comments=comments, flags=_flags(have))
    out = io.BytesIO()
    write_po(out, catalog, width=0, sort_output=False, omit_header=False)
    return out.getvalue()


def _where(text: TextToTranslate) -> str:
    if text.flow is not None:
        return f"flow step: {text.flow}.{text.step} ({text.kind})"
    return f"code: {text.where} ({text.kind})"


def _flags(have: Current | None) -> set[str]:
    return {UNREVIEWED} if have is not None and have.unreviewed and any(have.strings) else set()


_LANGUAGE_HEADER = re.compile(rb'^"Language: *([^\\"]*)\\n"', re.MULTILINE)
_PLURAL_HEADER = re.compile(rb'^"Plural-Forms: *nplurals=(\d+)', re.MULTILINE)


def read_po_file(data: bytes) -> ReadFile:
    found = _LANGUAGE_HEADER.search(data)
    language = found.group(1).decode("utf-8", "replace").strip() or None if found else None
    line = data[: found.start()].count(b"\n") + 1 if found else None
    plurals = _PLURAL_HEADER.search(data)
    known = language if language in LANGUAGES else None
    try:
        # The locale is given, so a header the file got wrong cannot pick the plural rule.
        catalog = read_po(io.BytesIO(data), locale=known, domain=DOMAIN, abort_invalid=True)
    except Exception as error:  # Babel's PoFileError, or what a file that is not po at all raises
        raise UnreadableFile(f"not a po file Stegvis can read: {error}") from None
    entries = []
    for message in catalog:
        if not message.id:
            continue  # the header
        if isinstance(message.id, (list, tuple)):
            msgid, plural = str(message.id[0]), str(message.id[1])
            strings = tuple(str(s or "") for s in message.string)
        else:
            msgid, plural, strings = str(message.id), None, (str(message.string or ""),)
        entries.append(Entry(message.lineno or 0, msgid, plural, strings, UNREVIEWED in message.flags, message.fuzzy))
    return ReadFile(language, line, tuple(entries), int(plurals.group(1)) if plurals else None)


# ---- XLSX --------------------------------------------------------------------------------------


def xlsx_bytes(code: str, texts: Sequence[TextToTranslate], current: dict[str, Current], now: datetime) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.writer.excel import ExcelWriter

    language = LANGUAGES[code]
    forms = get_plural(code).num_plurals
    book = Workbook()
    sheet = book.active
    sheet.title = code
    stamp = now.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)
    book.properties.title, book.properties.creator = f"Stegvis translations: {code}", "Stegvis"
    book.properties.created = book.properties.modified = stamp
    sheet.append(["Language", code, language.native_name, "Fill in the Translation column; leave the other columns as they are."])
    sheet["A1"].font = sheet["B1"].font = Font(bold=True)
    sheet.append(list(COLUMNS))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for text in texts:
        have = current.get(text.msgid)
        strings = have.strings if have else ("",) * (forms if text.plural is not None else 1)
        draft = YES if _flags(have) else ""
        for index, string in enumerate(strings):
            form = index if text.plural is not None else None
            sheet.append([text.flow or "", text.step or "", text.kind, text.msgid, text.plural or "", form, string, draft, text.limit_text(), text.note, text.where])
    widths = {FLOW: 14, STEP: 12, KIND: 11, SWEDISH: 50, SWEDISH_PLURAL: 20, FORM: 6, TRANSLATION: 50, DRAFT: 11, LIMIT: 24, NOTE: 50, WHERE: 30}
    for index, header in enumerate(COLUMNS):
        sheet.column_dimensions[chr(ord("A") + index)].width = widths[header]
    for row in sheet.iter_rows(min_row=3):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A3"
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(book, archive).save()  # openpyxl's save_workbook, without its own clock
    from bot.features.reports.writers import _restamped

    return _restamped(raw.getvalue(), now)


def read_xlsx_file(data: bytes) -> ReadFile:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # zipfile's BadZipFile, openpyxl's InvalidFileException, KeyError …
        raise UnreadableFile(f"not an XLSX workbook Stegvis can read: {error}") from None
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    book.close()
    language = _cell(rows[0], 1) if rows and rows[0] and _cell(rows[0], 0) == "Language" else None
    if len(rows) < 2:
        raise UnreadableFile("the workbook has no header row (row 2): export one with stegvis translations export")
    headers = {str(value).strip(): index for index, value in enumerate(rows[1]) if value is not None}
    missing = [c for c in (SWEDISH, SWEDISH_PLURAL, FORM, TRANSLATION, DRAFT) if c not in headers]
    if missing:
        raise UnreadableFile(f"row 2 lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}: export a fresh file with stegvis translations export")
    entries: list[Entry] = []
    plural_rows: dict[tuple[str, str], tuple[int, dict[int, str], bool]] = {}
    for number, row in enumerate(rows[2:], start=3):
        msgid = _cell(row, headers[SWEDISH])
        if not msgid:
            continue
        plural = _cell(row, headers[SWEDISH_PLURAL]) or None
        string = _cell(row, headers[TRANSLATION])
        draft = _cell(row, headers[DRAFT]).lower() in (YES, "y", "ja", "x", "true", "1")
        if plural is None:
            entries.append(Entry(number, msgid, None, (string,), draft))
            continue
        form = _cell(row, headers[FORM])
        first, forms, drafts = plural_rows.setdefault((msgid, plural), (number, {}, False))
        forms[int(form) if form.isdigit() else len(forms)] = string
        plural_rows[(msgid, plural)] = (first, forms, drafts or draft)
    for (msgid, plural), (first, forms, draft) in plural_rows.items():
        ordered = tuple(forms.get(index, "") for index in range(max(forms) + 1)) if forms else ()
        entries.append(Entry(first, msgid, plural, ordered, draft))
    entries.sort(key=lambda entry: entry.line)
    return ReadFile(language or None, 1 if language else None, tuple(entries))


def _cell(row: Sequence[object], index: int) -> str:
    if index >= len(row) or row[index] is None:
        return ""
    value = row[index]
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
