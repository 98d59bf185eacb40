"""Which languages participants can choose, and how each is written, formatted and named.

``LANGUAGES`` is the one list of them: a sixth language is one line here and its catalog
``locales/<code>/LC_MESSAGES/stegvis.po`` (docs/translations.md, "Adding a language"); the
language picker, the menus, the catalog checks and the translators' files follow it.

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
    swedish_name: str  # what staff read in the digest («skickade ett röstmeddelande på somaliska»)
    # The letters of its script, as a regex character class: an imported translation written
    # without any of them is in the wrong language (Arabic pasted into the Tigrinya file).
    letters: str = "A-Za-z\u00C0-\u024F"


ARABIC = "\u0600-\u06FF\u0750-\u077F\uFB50-\uFDFF\uFE70-\uFEFF"  # Arabic script, Persian letters included
ETHIOPIC = "\u1200-\u139F\u2D80-\u2DDF"  # Ge'ez

LANGUAGES: dict[str, Language] = {
    language.code: language
    for language in (
        Language("sv", "Svenska", "sv_SE", "sv", rtl=False, swedish_name="svenska"),
        Language("ar", "العربية", "ar", "ar", rtl=True, swedish_name="arabiska", letters=ARABIC),
        Language("so", "Soomaali", "so", "so", rtl=False, swedish_name="somaliska"),
        Language("fa_AF", "دری", "fa_AF", "fa", rtl=True, swedish_name="dari", letters=ARABIC),
        # Most Tigrinya speakers in Sweden come from Eritrea, so dates follow Eritrean usage.
        Language("ti", "ትግርኛ", "ti_ER", "ti", rtl=False, swedish_name="tigrinja", letters=ETHIOPIC),
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
