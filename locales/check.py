"""Is every text a participant can see translated, with the right placeholders and plural forms?

The messages are extracted afresh from the sources (flow files and Python) with the same mapping
``pybabel extract`` uses, so a new text without translations is caught before it reaches anyone.
Also lists the drafts still marked ``#, unreviewed`` for the municipality's translators.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from locales.catalogs import CATALOG_DIR, DOMAIN, catalog_path, placeholders
from locales.languages import LANGUAGES

PROJECT_ROOT = CATALOG_DIR.parent
UNREVIEWED = "unreviewed"  # the flag on a draft no translator has checked yet


@dataclass(frozen=True)
class SourceText:
    msgid: str | tuple[str, str]  # a (singular, plural) pair for plural messages
    where: str


def _extracted(root: Path) -> list[tuple[str, int, str | tuple[str, str], list[str]]]:
    """(file, line, msgid, translator comments) for every text in the sources, through ``babel.cfg``."""
    with (root / "babel.cfg").open() as mapping:
        method_map, options_map = parse_mapping_cfg(mapping)
    found = []
    for filename, lineno, message, comments, _context in extract_from_dir(str(root), method_map, options_map, comment_tags=("TRANSLATORS:",)):
        msgid = message if isinstance(message, str) else (message[0], message[1])
        found.append((filename, lineno, msgid, list(comments)))
    return found


def source_texts(root: Path = PROJECT_ROOT) -> list[SourceText]:
    """Every msgid in the sources, with the first place it is used."""
    found: dict[str | tuple[str, str], str] = {}
    for filename, lineno, msgid, _comments in _extracted(root):
        found.setdefault(msgid, f"{filename}:{lineno}")
    return [SourceText(msgid, where) for msgid, where in found.items()]


def source_catalog(root: Path = PROJECT_ROOT) -> Catalog:
    """The translation template (what ``pybabel extract`` writes to ``locales/stegvis.pot``)."""
    template = Catalog(project="Stegvis", domain=DOMAIN, fuzzy=False)
    for filename, lineno, msgid, comments in _extracted(root):
        template.add(msgid, locations=[(filename, lineno)], auto_comments=comments)
    return template


def load_catalog(code: str, directory: Path = CATALOG_DIR) -> Catalog:
    with catalog_path(code, directory).open("rb") as po:
        return read_po(po, locale=code, domain=DOMAIN)


def problems(directory: Path = CATALOG_DIR, texts: list[SourceText] | None = None) -> list[str]:
    """Everything that would make a participant see Swedish, or a broken text, instead of their language."""
    texts = source_texts() if texts is None else texts
    found = []
    for code in LANGUAGES:
        if not catalog_path(code, directory).exists():
            found.append(f"{code}: no catalog at {catalog_path(code, directory)}")
            continue
        catalog = load_catalog(code, directory)
        rule = get_plural(code)
        expected_forms = rule.num_plurals
        if (catalog.num_plurals, catalog.plural_expr) != (rule.num_plurals, rule.plural_expr):
            found.append(
                f"{code}: Plural-Forms header is {catalog.plural_forms!r}; Babel's rule for {code} is "
                f"'nplurals={rule.num_plurals}; plural={rule.plural_expr};' (run: python -m locales.update)"
            )
        for text in texts:
            message = catalog.get(text.msgid[0] if isinstance(text.msgid, tuple) else text.msgid)
            label = f"{code}: {_short(text.msgid)} ({text.where})"
            if message is None:
                found.append(f"{label}: missing from the catalog")
                continue
            if message.fuzzy:
                found.append(f"{label}: marked fuzzy (gettext would not use it)")
            strings = list(message.string) if isinstance(message.string, (list, tuple)) else [message.string]
            if isinstance(text.msgid, tuple) and len(strings) != expected_forms:
                found.append(f"{label}: has {len(strings)} plural forms; {code} needs {expected_forms}")
            source_fields = placeholders(text.msgid[0] if isinstance(text.msgid, tuple) else text.msgid)
            for index, string in enumerate(strings):
                where = f"{label} form {index}" if len(strings) > 1 else label
                if not string:
                    found.append(f"{where}: not translated")
                    continue
                try:
                    fields = placeholders(string)
                except ValueError as error:
                    found.append(f"{where}: broken placeholder: {error}")
                    continue
                if isinstance(text.msgid, tuple):
                    fields -= {"n"}  # a plural form may leave the number out ("one day")
                    expected = source_fields - {"n"}
                else:
                    expected = source_fields
                if fields != expected:
                    found.append(f"{where}: placeholders {sorted(fields)} differ from the Swedish {sorted(expected)}")
    return found


def unreviewed(directory: Path = CATALOG_DIR) -> dict[str, list[str]]:
    """The drafts per language that still wait for a translator."""
    report = {}
    for code in LANGUAGES:
        if catalog_path(code, directory).exists():
            catalog = load_catalog(code, directory)
            report[code] = [_short(m.id) for m in catalog if m.id and UNREVIEWED in m.flags]
    return report


def _short(msgid: str | tuple[str, str] | list[str]) -> str:
    text = msgid if isinstance(msgid, str) else msgid[0]
    first = text.splitlines()[0]
    return repr(first if len(first) <= 60 else first[:57] + "...")
