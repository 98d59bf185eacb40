"""The five languages Stegvis speaks, their gettext catalogs, and locale-aware formatting.

The catalogs live beside this file as ``<code>/LC_MESSAGES/stegvis.po``. Swedish is the source
language: every msgid is the Swedish text that administrators write in the flow files.

The catalogs and Babel are loaded when first asked for (PEP 562): a CLI command that only needs
a language code does not pay for Babel's import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from locales.languages import LANGUAGES, SOURCE_LANGUAGE, Language, parse_language

if TYPE_CHECKING:
    from locales.catalogs import Catalogs, Texts

__all__ = ["N_", "LANGUAGES", "SOURCE_LANGUAGE", "Catalogs", "Language", "Texts", "parse_language"]


def N_(msgid: str) -> str:
    """Marks a text for ``pybabel extract`` where it is defined; it is translated where it is used."""
    return msgid


def __getattr__(name: str) -> Any:
    if name in ("Catalogs", "Texts"):
        from locales import catalogs

        return getattr(catalogs, name)
    raise AttributeError(f"module 'locales' has no attribute {name!r}")
