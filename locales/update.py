"""Bring the catalogs up to date with the sources: ``python -m locales.update``.

Extracts every text (flows and code, through ``babel.cfg``) into ``locales/stegvis.pot``, merges
it into each language's catalog, and writes each catalog's ``Plural-Forms`` header from Babel's
own plural rule for the language (CLDR), so the header can never disagree with the Babel that is
installed (``constraints.txt`` pins it). A plural message whose number of forms changed keeps the
forms it had and repeats its last one, flagged ``unreviewed`` for a translator to check.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po, write_po

from locales.catalogs import CATALOG_DIR, DOMAIN, catalog_path
from locales.check import UNREVIEWED, source_catalog
from locales.languages import LANGUAGES, SOURCE_LANGUAGE

TEMPLATE = CATALOG_DIR / f"{DOMAIN}.pot"


def plural_header(code: str) -> str:
    """The ``Plural-Forms`` value Babel gives this language."""
    rule = get_plural(code)
    return f"nplurals={rule.num_plurals}; plural={rule.plural_expr};"


def _with_babel_plurals(catalog: Catalog, code: str) -> None:
    wanted = get_plural(code)
    catalog._num_plurals = wanted.num_plurals  # Babel keeps the header's values in these two
    catalog._plural_expr = wanted.plural_expr
    for message in catalog:
        if not message.id or not message.pluralizable:
            continue
        forms = list(message.string) if isinstance(message.string, (list, tuple)) else [message.string]
        if len(forms) == wanted.num_plurals:
            continue
        forms = (forms + [forms[-1]] * wanted.num_plurals)[: wanted.num_plurals]
        message.string = tuple(forms)
        if code != SOURCE_LANGUAGE:
            message.flags.add(UNREVIEWED)


def update(directory: Path = CATALOG_DIR) -> list[Path]:
    """Rewrite the template and every catalog; returns the files written."""
    template = source_catalog()
    with TEMPLATE.open("wb") as pot:
        write_po(pot, template, width=0, sort_by_file=True)
    written = [TEMPLATE]
    for code in LANGUAGES:
        path = catalog_path(code, directory)
        with path.open("rb") as po:
            catalog = read_po(po, locale=code, domain=DOMAIN)
        catalog.update(template, update_header_comment=False)
        _with_babel_plurals(catalog, code)
        with path.open("wb") as po:
            write_po(po, catalog, width=0, sort_by_file=True, ignore_obsolete=True)
        written.append(path)
    return written


def main() -> int:
    for path in update():
        print(f"wrote {path.relative_to(CATALOG_DIR.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
