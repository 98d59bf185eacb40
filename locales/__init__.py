"""The five languages Stegvis speaks, their gettext catalogs, and locale-aware formatting.

The catalogs live beside this file as ``<code>/LC_MESSAGES/stegvis.po``. Swedish is the source
language: every msgid is the Swedish text that administrators write in the flow files.
"""

from locales.catalogs import N_, Catalogs, Texts
from locales.languages import LANGUAGES, SOURCE_LANGUAGE, Language, parse_language

__all__ = ["N_", "LANGUAGES", "SOURCE_LANGUAGE", "Catalogs", "Language", "Texts", "parse_language"]
