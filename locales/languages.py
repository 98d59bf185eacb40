"""Which languages participants can choose, and how each is written, formatted and named.

Dari has no ISO 639-1 code: its catalog is ``fa_AF`` (the CLDR locale), ``prs`` (ISO 639-3) is
accepted as input, and Telegram knows it as Persian, ``fa``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    code: str  # catalog folder and the value stored on a participant
    native_name: str  # written in its own script: the label on the language picker
    babel_locale: str  # CLDR locale for dates, times and numbers
    telegram_code: str  # IETF code Telegram uses for an app language and for setMyCommands
    rtl: bool


LANGUAGES: dict[str, Language] = {
    language.code: language
    for language in (
        Language("sv", "Svenska", "sv_SE", "sv", rtl=False),
        Language("ar", "العربية", "ar", "ar", rtl=True),
        Language("so", "Soomaali", "so", "so", rtl=False),
        Language("fa_AF", "دری", "fa_AF", "fa", rtl=True),
        # Most Tigrinya speakers in Sweden come from Eritrea, so dates follow Eritrean usage.
        Language("ti", "ትግርኛ", "ti_ER", "ti", rtl=False),
    )
}
SOURCE_LANGUAGE = "sv"

_ALIASES = {"prs": "fa_AF", "fa": "fa_AF", "fa-af": "fa_AF", "fa_af": "fa_AF", "dari": "fa_AF"}


def parse_language(text: str) -> Language:
    """The language for a code typed by a person (CLI, CSV); ValueError names the accepted codes."""
    key = text.strip()
    code = _ALIASES.get(key.lower(), key.lower())
    if code not in LANGUAGES:
        raise ValueError(f"unknown language {text!r}: use one of {' '.join(LANGUAGES)} (prs for Dari)")
    return LANGUAGES[code]


def guess_from_telegram(language_code: str | None) -> str | None:
    """A first guess from the app language Telegram reports; the participant always confirms it."""
    if not language_code:
        return None
    primary = language_code.replace("_", "-").split("-")[0].lower()
    code = _ALIASES.get(primary, primary)
    return code if code in LANGUAGES else None


def picker_order(first: str | None) -> list[Language]:
    """Languages for the picker: the guessed one first, then the fixed order."""
    ordered = list(LANGUAGES.values())
    if first in LANGUAGES:
        ordered.sort(key=lambda language: language.code != first)
    return ordered
