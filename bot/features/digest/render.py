"""The digest as text (a terminal), HTML (Jinja2, autoescaped), Telegram HTML, email and JSON.

A participant's words are never trusted: in HTML and Telegram every piece of text is escaped
(Jinja2's autoescape, ``html.escape``), so ``<script>``, Telegram tags, Markdown, RTL marks or
only emoji appear exactly as written and do nothing. A quote is wrapped in «…» and its
language named; in plain text an RTL quote is isolated (U+2068 … U+2069) so it cannot turn the
rest of the line around, and the characters themselves are kept as written.
"""

from __future__ import annotations

import dataclasses
import html
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from bot.features.digest.content import NEEDS_ACTION, Digest, Line, Person, _day

if TYPE_CHECKING:
    from jinja2 import Environment

    from bot.config import Settings

TELEGRAM_LIMIT = 4096
EMPTY_LINE = "Inget nytt om dina deltagare sedan förra sammanfattningen."
ISOLATE, END_ISOLATE = "\u2068", "\u2069"  # first-strong isolate: an RTL quote stays inside its «…»


@dataclass(frozen=True)
class EmailContent:
    subject: str
    text: str
    html: str
    participant_ids: tuple[int, ...] = ()  # whom it names: for the access log once it is sent


# Under needs action in a terminal (and an email): how to answer, since there are no buttons there.
REPLY_HINT = "Svara: stegvis reply --participant ID --with call-you|stays-booked|come-to-office|noted|new-time, eller --text \"…\""


def title(digest: Digest) -> str:
    return f"Stegvis: sammanfattning {_day(digest.day)} {digest.day.year} för {digest.caseworker_name}"


def _name(person: Person, full: bool) -> str:
    return f"{person.name if full else person.first_name} (id {person.id})"


def line_parts(line: Line, *, full_names: bool = True) -> tuple[str, str, str | None, str | None]:
    """(who, what, quote, the quote's language) of one line, unescaped."""
    who = _name(line.participant, full_names) if line.participant else ""
    if line.quote is None:
        return who, line.text, None, None
    return who, line.text, line.quote.text, line.quote.language_name


def _plain(line: Line, full_names: bool) -> str:
    who, what, quote, language = line_parts(line, full_names=full_names)
    text = f"{who}: {what}" if who else what
    if quote is not None:
        text += f": «{ISOLATE}{quote}{END_ISOLATE}» (på {language})"
    return text


def _text(digest: Digest, settings: Settings, *, full_names: bool) -> str:
    out = [title(digest)]
    if digest.empty:
        return "\n".join([*out, EMPTY_LINE])
    for section in digest.sections:
        if not section.lines:
            continue
        out += ["", f"{section.title}:"]
        out += [f"  {_plain(line, full_names)}" if line.participant is None else f"  - {_plain(line, full_names)}" for line in section.lines]
        if section.key == NEEDS_ACTION and any(line.participant and line.kind not in UNANSWERABLE for line in section.lines):
            out.append(f"  {REPLY_HINT}")
    return "\n".join(out)


def render_text(digest: Digest, settings: Settings) -> str:
    """For a terminal; '' for an empty day when DIGEST_EMPTY is "nothing"."""
    if digest.empty and settings.digest_empty == "nothing":
        return ""
    return _text(digest, settings, full_names=True)


def _telegram_line(line: Line) -> str:
    who, what, quote, language = line_parts(line)
    escaped = f"<b>{html.escape(who)}</b>: {html.escape(what)}" if who else f"<i>{html.escape(what)}</i>"
    if quote is not None:
        escaped += f": «{ISOLATE}{html.escape(quote)}{END_ISOLATE}» (på {html.escape(language or '')})"
    return ("• " if who else "") + escaped


@dataclass(frozen=True)
class TelegramMessage:
    """One Telegram message of a digest, Telegram HTML; ``replies_for`` names the participant whose
    quick-reply buttons it carries (the delivery feature draws them), or None."""

    text: str
    replies_for: int | None = None
    participant_ids: tuple[int, ...] = ()  # whom the digest names (every message carries all): for the access log once sent


# Needs-action participants who get a message of their own with quick-reply buttons; the rest
# are listed as usual and answered with `stegvis reply` (a digest of 200 messages helps nobody).
MAX_REPLY_MESSAGES = 20
# A participant who said /stop or blocked the bot cannot be answered: no buttons for them.
UNANSWERABLE = frozenset({"stopped", "unreachable", "finished"})
MORE_TO_ANSWER = "Svara de övriga med: stegvis reply --participant ID --with call-you"


def render_telegram(digest: Digest, settings: Settings) -> list[TelegramMessage]:
    """Telegram HTML messages of at most 4096 characters, split at line boundaries; [] for nothing.

    Needs action comes first, one message per participant (all their lines) with quick-reply
    buttons, up to MAX_REPLY_MESSAGES of them; everything else is joined as before.
    """
    if digest.empty:
        return [] if settings.digest_empty == "nothing" else [TelegramMessage(f"<b>{html.escape(title(digest))}</b>\n{html.escape(EMPTY_LINE)}")]
    messages: list[TelegramMessage] = []
    lines = [f"<b>{html.escape(title(digest))}</b>"]
    about_someone = False  # whether `lines` holds a participant's line yet (headings alone wait)

    def flush(replies_for: int | None = None) -> None:
        nonlocal lines, about_someone
        while lines and not lines[0]:
            lines.pop(0)  # a message never starts with the blank line before its heading
        if texts := split_messages(lines, TELEGRAM_LIMIT):
            messages.extend(TelegramMessage(text) for text in texts[:-1])
            messages.append(TelegramMessage(texts[-1], replies_for))
        lines, about_someone = [], False

    for section in digest.sections:
        if not section.lines:
            continue
        lines += ["", f"<b>{html.escape(section.title)}</b>"]
        if section.key != NEEDS_ACTION:
            lines += [_telegram_line(line) for line in section.lines]
            about_someone = True
            continue
        answered, more = 0, False
        for person, group in _by_participant(section.lines):
            answerable = person is not None and not any(line.kind in UNANSWERABLE for line in group)
            if answerable and answered < MAX_REPLY_MESSAGES:
                if about_someone:
                    flush()
                lines += [_telegram_line(line) for line in group]
                flush(person.id)  # type: ignore[union-attr]
                answered += 1
            else:
                more = more or answerable
                lines += [_telegram_line(line) for line in group]
                about_someone = True
        if more:
            lines.append(f"<i>{html.escape(MORE_TO_ANSWER)}</i>")
        if about_someone:
            flush()
    flush()
    return [dataclasses.replace(message, participant_ids=digest.participant_ids) for message in messages]


def _by_participant(lines: tuple[Line, ...]) -> list[tuple[Person | None, list[Line]]]:
    """Lines grouped by participant, in the order each first appears (the most urgent first)."""
    groups: dict[int | None, tuple[Person | None, list[Line]]] = {}
    for line in lines:
        key = line.participant.id if line.participant else None
        groups.setdefault(key, (line.participant, []))[1].append(line)
    return list(groups.values())


def split_messages(lines: list[str], limit: int) -> list[str]:
    """Lines joined into messages of at most ``limit`` characters; a longer line is cut between characters
    that are not inside an HTML tag or entity (a 4,000-character quote with its name fits, but be safe)."""
    messages: list[str] = []
    current = ""
    for line in lines:
        for piece in _cut(line, limit):
            candidate = piece if not current else f"{current}\n{piece}"
            if len(candidate) <= limit:
                current = candidate
            else:
                messages.append(current)
                current = piece
    if current.strip():
        messages.append(current)
    return messages


def _cut(line: str, limit: int) -> list[str]:
    if len(line) <= limit:
        return [line]
    pieces, start = [], 0
    while len(line) - start > limit:
        stop = start + limit
        # Back off to before any open "<…>" or "&…;" so a tag or an entity is never split.
        lt, amp = line.rfind("<", start, stop), line.rfind("&", start, stop)
        if lt > line.rfind(">", start, stop):
            stop = lt
        if amp > line.rfind(";", start, stop):
            stop = min(stop, amp)
        pieces.append(line[start:stop])
        start = stop
    pieces.append(line[start:])
    return pieces


@lru_cache(maxsize=1)
def _environment() -> Environment:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(loader=PackageLoader("bot.features.digest", "templates"), autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _html(digest: Digest, settings: Settings, *, full_names: bool, template: str, **extra: Any) -> str:
    sections = [
        {"title": s.title, "lines": [dict(zip(("who", "what", "quote", "language"), line_parts(line, full_names=full_names), strict=True), heading=line.participant is None) for line in s.lines]}
        for s in digest.sections if s.lines
    ]
    return _environment().get_template(template).render(title=title(digest), empty=digest.empty, empty_line=EMPTY_LINE, sections=sections, **extra)


def render_html(digest: Digest, settings: Settings) -> str:
    return _html(digest, settings, full_names=True, template="digest.html")


def render_email(digest: Digest, settings: Settings) -> EmailContent:
    """Multipart email content: first names and ids only unless DIGEST_EMAIL_FULL_NAMES; says where the full digest is."""
    full = bool(settings.digest_email_full_names)
    where = f"Hela sammanfattningen, med fullständiga namn: {settings.digest_full_at}."
    text = _text(digest, settings, full_names=full) + ("" if full else f"\n\n{where}")
    body = _html(digest, settings, full_names=full, template="email.html", where=None if full else where)
    return EmailContent(subject=title(digest), text=text, html=body, participant_ids=digest.participant_ids)


def render_json(digest: Digest, settings: Settings) -> dict[str, Any]:
    return {
        "caseworker": {"id": digest.caseworker_id, "name": digest.caseworker_name}, "day": digest.day.isoformat(),
        "window": {"from": digest.window_start.isoformat(), "to": digest.window_end.isoformat()}, "empty": digest.empty,
        "sections": [{"key": s.key, "title": s.title, "lines": [line.as_json() for line in s.lines]} for s in digest.sections],
    }
