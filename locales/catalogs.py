"""Loading the gettext catalogs and turning msgids into text for one participant's language.

Catalogs are read from the ``.po`` files at start-up and compiled in memory, so there is no
build step and no ``.mo`` file to forget: an edited catalog is live after ``Catalogs.reload()``.
Translations imported since (``stegvis translations import``, kept in the database) are laid over
the files: ``Catalogs.reload(overlay)``.
"""

from __future__ import annotations

import gettext
import io
import logging
import string
from pathlib import Path
from collections.abc import Mapping, Sequence
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from locales.format import isolate, isolate_latin_runs
from locales.languages import LANGUAGES, SOURCE_LANGUAGE, Language, picker_order

log = logging.getLogger(__name__)

DOMAIN = "stegvis"
CATALOG_DIR = Path(__file__).resolve().parent


def catalog_path(code: str, directory: Path = CATALOG_DIR) -> Path:
    return directory / code / "LC_MESSAGES" / f"{DOMAIN}.po"


def placeholders(text: str) -> set[str]:
    """The ``{name}`` fields in a text; translators must keep exactly these."""
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


class Texts:
    """Every text a participant sees, in one language.

    The method names are gettext's so that ``pybabel extract`` finds the msgids with its default
    keywords. Values filled into a right-to-left text are wrapped in Unicode isolates, so a Latin
    name or a time inside an Arabic sentence keeps its place.
    """

    def __init__(self, language: Language, translations: gettext.NullTranslations):
        self.language = language
        self._translations = translations

    def gettext(self, msgid: str, **values: Any) -> str:
        return self._fill(self._translations.gettext(msgid), values)

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        return self._fill(self._translations.ngettext(singular, plural, n), {"n": n, **values})

    def _fill(self, template: str, values: dict[str, Any]) -> str:
        if not values and not self.language.rtl:
            return template
        # Literal text and filled-in values are handled apart, so isolating a Latin word in a
        # right-to-left template can never break a {placeholder}.
        parts = []
        for literal, field, _spec, _conversion in string.Formatter().parse(template):
            parts.append(isolate_latin_runs(literal) if self.language.rtl else literal)
            if field is not None:
                parts.append(isolate(str(values[field]), self.language))
        return "".join(parts)


# language → Swedish msgid → (its plural msgid or None, the translated forms): imported translations.
Overlay = Mapping[str, Mapping[str, tuple[str | None, Sequence[str]]]]


class Catalogs:
    """The translations of every language, compiled from the ``.po`` files and what was imported since."""

    def __init__(self, directory: Path = CATALOG_DIR, overlay: Overlay | None = None):
        self.directory = directory
        self.overlay: Overlay = {}
        self._texts: dict[str, Texts] = {}
        self.reload(overlay)

    def reload(self, overlay: Overlay | None = None) -> None:
        """Read the catalogs again; `overlay` (when given) replaces the imported translations laid over them.
        The new texts take the place of the old at once, so a reply never mixes the two."""
        if overlay is not None:
            self.overlay = overlay
        texts = {}
        for code, language in LANGUAGES.items():
            path = catalog_path(code, self.directory)
            imported = self.overlay.get(code, {})
            if path.exists() or imported:
                translations: gettext.NullTranslations = _compile(path, code, imported)
            else:
                # Better Swedish than silence; the catalog tests make this a failure before release.
                if code != SOURCE_LANGUAGE:
                    log.warning("no catalog for %s at %s: falling back to Swedish", code, path)
                translations = gettext.NullTranslations()
            texts[code] = Texts(language, translations)
        self._texts = texts

    def texts(self, code: str | None) -> Texts:
        return self._texts.get(code or SOURCE_LANGUAGE) or self._texts[SOURCE_LANGUAGE]

    def in_all_languages(self, msgid: str, first: str | None = None) -> str:
        """One line per language, the likeliest first: for people whose language we don't know yet."""
        return "\n".join(self.texts(language.code).gettext(msgid) for language in picker_order(first))


def _compile(path: Path, code: str, imported: Mapping[str, tuple[str | None, Sequence[str]]]) -> gettext.GNUTranslations:
    catalog = read_catalog(path, code)
    for msgid, (plural, strings) in imported.items():
        message = catalog.get(msgid)
        string: str | tuple[str, ...] = tuple(strings) if plural is not None else strings[0]
        if message is None:
            catalog.add((msgid, plural) if plural is not None else msgid, string)
        else:
            message.string = string
            message.flags.discard("fuzzy")  # an accepted import is meant to be used
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def read_catalog(path: Path, code: str) -> Catalog:
    """A language's ``.po`` file, or an empty catalog with Babel's plural rule when there is none yet."""
    if not path.exists():
        return Catalog(locale=code, domain=DOMAIN)
    with path.open("rb") as po:
        return read_po(po, locale=code, domain=DOMAIN)
