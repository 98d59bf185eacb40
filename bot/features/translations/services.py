"""The translators' operations: export a language's texts, import a translated file, and how far each language is.

What a participant reads is the catalog (``locales/<code>/LC_MESSAGES/stegvis.po``) with the
imported translations (the `translations` table) laid over it; export and status read the same.
An import is checked whole first (`checks`): one bad entry and nothing is stored, and every
problem is listed with its line. An accepted import is stored in the caller's session under a
new revision; running bots read it within seconds (`live.reload_translations`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from babel.messages.plurals import get_plural
from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.translations import checks, files
from bot.features.translations.files import Current, ReadFile
from bot.features.translations.texts import TextToTranslate, texts_in_order
from bot.services import Actor, InvalidInput
from locales.catalogs import CATALOG_DIR, catalog_path, read_catalog
from locales.check import UNREVIEWED
from locales.languages import LANGUAGES, SOURCE_LANGUAGE, parse_language
from storage import translations as stored
from storage.translations import Imported

FORMATS = ("po", "xlsx")


async def current_translations(session: AsyncSession, directory: Path = CATALOG_DIR) -> dict[str, dict[str, Current]]:
    """language → msgid → its translation as participants read it now (catalog, then imports on top)."""
    imported = await stored.all_imported(session)
    found: dict[str, dict[str, Current]] = {}
    for code in LANGUAGES:
        catalog = read_catalog(catalog_path(code, directory), code)
        have: dict[str, Current] = {}
        for message in catalog:
            if not message.id:
                continue
            msgid = message.id if isinstance(message.id, str) else message.id[0]
            strings = tuple(message.string) if isinstance(message.string, (list, tuple)) else (message.string or "",)
            have[msgid] = Current(tuple(s or "" for s in strings), UNREVIEWED in message.flags or message.fuzzy)
        for msgid, entry in imported.get(code, {}).items():
            have[msgid] = Current(entry.strings, entry.unreviewed)
        found[code] = have
    return found


def _language(text: str, field: str = "language") -> str:
    try:
        code = parse_language(text).code
    except ValueError as error:
        raise InvalidInput(str(error), field=field) from None
    if code == SOURCE_LANGUAGE:
        raise InvalidInput(f"{code} is the source language: its texts are the Swedish in the flows and the code", field=field)
    return code


@dataclass(frozen=True)
class Exported:
    language: str
    format: str
    content: bytes
    texts: int
    translated: int

    def as_json(self, tz: Any = None) -> dict[str, Any]:
        return {"language": self.language, "format": self.format, "texts": self.texts, "translated": self.translated}


async def export_translations(session: AsyncSession, actor: Actor, *, language: str, format: str, now: datetime) -> Exported:
    code = _language(language)
    if format not in FORMATS:
        raise InvalidInput(f"unknown format {format!r}: use po or xlsx", field="format")
    texts = texts_in_order()
    current = (await current_translations(session))[code]
    write = files.po_bytes if format == "po" else files.xlsx_bytes
    content = write(code, texts, current, now)
    translated = sum(1 for t in texts if t.msgid in current and all(current[t.msgid].strings))
    return Exported(code, format, content, len(texts), translated)


@dataclass(frozen=True)
class ImportResult:
    language: str
    file: str
    revision: int
    imported: int
    unreviewed: int
    left_empty: int  # entries with no translation, left as they were
    fuzzy: int  # entries marked fuzzy, left out as gettext would

    def as_json(self, tz: Any = None) -> dict[str, Any]:
        return {
            "language": self.language, "file": self.file, "revision": self.revision, "imported": self.imported,
            "unreviewed": self.unreviewed, "left_empty": self.left_empty, "fuzzy": self.fuzzy,
        }


def read_file(name: str, data: bytes) -> tuple[ReadFile, str]:
    """The file's entries and what its positions are called ("line" in po, "row" in XLSX)."""
    suffix = Path(name).suffix.lower()
    try:
        if suffix == ".xlsx" or data[:2] == b"PK":
            return files.read_xlsx_file(data), "row"
        if suffix in (".po", ".pot", "") or data.lstrip()[:1] in (b"#", b"m"):
            return files.read_po_file(data), "line"
    except files.UnreadableFile as error:
        raise InvalidInput(f"{name}: {error}", field="file") from None
    raise InvalidInput(f"{name}: use a .po or .xlsx file (as stegvis translations export writes)", field="file")


async def import_translations(session: AsyncSession, actor: Actor, *, name: str, data: bytes, now: datetime, language: str | None = None) -> ImportResult:
    """Check every entry of a translated file and store them all, or none when one is wrong."""
    expected = _language(language) if language is not None else None
    read, line_word = read_file(name, data)
    wrong = checks.language_problem(read, expected, Path(name).name)
    if wrong is not None:
        raise InvalidInput(wrong, field="file")
    code = read.language
    assert code is not None
    texts: dict[str, TextToTranslate] = {t.msgid: t for t in texts_in_order()}
    current = await current_translations(session)
    problems = checks.duplicate_problems(read.entries, line_word) + checks.entry_problems(read, texts, current, line_word)
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        raise InvalidInput(f"{Path(name).name}: {count}; nothing was imported", field="file", problems=problems)
    forms = get_plural(code).num_plurals
    accepted = [
        Imported(e.msgid, e.plural, e.strings[:forms] if e.plural else e.strings[:1], e.unreviewed)
        for e in read.entries
        if any(e.strings) and not e.fuzzy
    ]
    revision = await stored.store(session, code, accepted, source=Path(name).name, now=now)
    return ImportResult(
        code, Path(name).name, revision, len(accepted), sum(1 for a in accepted if a.unreviewed),
        sum(1 for e in read.entries if not any(e.strings)), sum(1 for e in read.entries if e.fuzzy and any(e.strings)),
    )


@dataclass(frozen=True)
class LanguageStatus:
    language: str
    name: str
    translated: int  # every form present (reviewed or not)
    unreviewed: int  # of those, still drafts
    missing: int
    missing_texts: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"language": self.language, "translated": self.translated, "unreviewed": self.unreviewed, "missing": self.missing, "missing_texts": self.missing_texts}


@dataclass(frozen=True)
class Status:
    texts: int
    languages: list[LanguageStatus]

    def as_json(self, tz: Any = None) -> dict[str, Any]:
        return {"texts": self.texts, "languages": [language.as_json() for language in self.languages]}


async def translation_status(session: AsyncSession, actor: Actor) -> Status:
    texts = texts_in_order()
    current = await current_translations(session)
    rows = []
    for code, language in LANGUAGES.items():
        if code == SOURCE_LANGUAGE:
            continue
        have = current.get(code, {})
        done = [t for t in texts if t.msgid in have and have[t.msgid].strings and all(have[t.msgid].strings)]
        missing = [t.msgid for t in texts if t not in done]
        rows.append(LanguageStatus(code, language.native_name, len(done), sum(1 for t in done if have[t.msgid].unreviewed), len(missing), missing))
    return Status(len(texts), rows)
