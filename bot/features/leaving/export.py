"""A participant's own copy: everything stored about one person, as sections, in JSON or HTML.

`collect` reads it into a list of `Section`s (a key, a title msgid, columns, rows of plain
values), so another feature can add its own section (the access log, at the merge) without this
file knowing it. `as_json` writes them plainly (keys, ISO dates, codes); `as_html` writes one
page in the participant's own language: the titles and column names from the catalogs, dates by
Babel in their locale, ``dir="rtl"`` for Arabic and Dari, and every value escaped (Jinja2
autoescape), since names, places and messages are whatever people typed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from jinja2 import Environment
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.caseworker_messages.messages import QUICK_REPLIES
from bot.features.leaving.services import existing_participant
from bot.services import Actor
from locales import LANGUAGES, N_, SOURCE_LANGUAGE, Catalogs
from storage import access_log
from storage.models import Activity, Appointment, Attendance, Caseworker, CheckIn, ConsentRecord, Enrolment, Event, ParticipantStatus


@dataclass(frozen=True)
class Column:
    key: str  # the JSON name
    title: str  # a msgid: the HTML column heading


@dataclass(frozen=True)
class Section:
    key: str
    title: str  # a msgid
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class Export:
    participant_id: int
    language: str  # a code of LANGUAGES: the HTML's language
    exported_at: datetime
    sections: tuple[Section, ...]



YES, NO = N_("Ja"), N_("Nej")
YOU, CASEWORKER = N_("Du"), N_("Din handläggare")
VOICE_NOTE = N_("Ett röstmeddelande")
PAGE_TITLE = N_("Dina uppgifter i Stegvis")
PAGE_INTRO = N_("Det här är allt som Stegvis har sparat om dig, {date}.")
NOTHING = N_("Inget sparat.")


def _columns(*pairs: tuple[str, str]) -> tuple[Column, ...]:
    return tuple(Column(key, title) for key, title in pairs)


PROFILE = _columns(("name", N_("Namn")), ("language", N_("Språk")), ("status", N_("Status")), ("caseworker", N_("Handläggare")),
                   ("joined", N_("Med sedan")), ("finished_on", N_("Slutade")), ("finish_reason", N_("Orsak")), ("gender", N_("Kön")))
CONSENTS = _columns(("recorded_at", N_("När")), ("answer", N_("Svar")), ("notice_version", N_("Version av texten")))
APPOINTMENTS = _columns(("starts_at", N_("Tid")), ("place", N_("Plats")), ("title", N_("Vad")), ("status", N_("Status")), ("answer", N_("Ditt svar")), ("attended", N_("Var där")))
ACTIVITIES = _columns(("activity", N_("Aktivitet")), ("from", N_("Från")), ("to", N_("Till")))
ATTENDANCE = _columns(("date", N_("Datum")), ("activity", N_("Aktivitet")), ("present", N_("Var där")))
CHECKINS = _columns(("week", N_("Vecka")), ("practice", N_("Övat")), ("places", N_("Var")), ("confidence", N_("Hur det känns (1–5)")), ("voice_notes", N_("Röstmeddelanden")))
MESSAGES = _columns(("at", N_("När")), ("from", N_("Från")), ("text", N_("Text")))
HISTORY = _columns(("at", N_("När")), ("what", N_("Vad")))
ACCESS_LOG = _columns(("at", N_("När")), ("who", N_("Vem")), ("what", N_("Vad")))


async def collect(session: AsyncSession, actor: Actor, *, participant_id: int, now: datetime) -> Export:
    participant = await existing_participant(session, participant_id)
    pid = participant_id
    caseworker = await session.get(Caseworker, participant.caseworker_id)
    names = dict((await session.execute(select(Activity.id, Activity.name))).all())
    sections = [
        Section("profile", N_("Om dig"), PROFILE, ((
            participant.name, LANGUAGES[participant.language].native_name if participant.language in LANGUAGES else participant.language,
            ParticipantStatus(participant.status).value, caseworker.name if caseworker else None, participant.created_at,
            participant.finished_on, participant.finish_reason, participant.gender,
        ),)),
        Section("consents", N_("Vad du har godkänt"), CONSENTS, tuple(
            (c.recorded_at, c.answer, c.notice_version)
            for c in await session.scalars(select(ConsentRecord).where(ConsentRecord.participant_id == pid).order_by(ConsentRecord.recorded_at, ConsentRecord.id))
        )),
        Section("appointments", N_("Möten"), APPOINTMENTS, tuple(
            (a.starts_at, a.place, a.title, a.status, a.answer, a.attended)
            for a in await session.scalars(select(Appointment).where(Appointment.participant_id == pid).order_by(Appointment.starts_at, Appointment.id))
        )),
        Section("activities", N_("Aktiviteter"), ACTIVITIES, tuple(
            (names.get(e.activity_id), e.from_date, e.left_date)
            for e in await session.scalars(select(Enrolment).where(Enrolment.participant_id == pid).order_by(Enrolment.from_date, Enrolment.id))
        )),
        Section("attendance", N_("Närvaro"), ATTENDANCE, tuple(
            (a.local_date, names.get(a.activity_id), a.present)
            for a in await session.scalars(select(Attendance).where(Attendance.participant_id == pid).order_by(Attendance.local_date, Attendance.id))
        )),
        Section("checkins", N_("Avstämningar om språkträning"), CHECKINS, tuple(
            (c.week, c.practice, list(c.places or ()), c.confidence, c.voice_notes)
            for c in await session.scalars(select(CheckIn).where(CheckIn.participant_id == pid).order_by(CheckIn.week))
        )),
    ]
    events = list((await session.execute(select(Event.type, Event.occurred_at, Event.payload).where(Event.participant_id == pid).order_by(Event.occurred_at, Event.id))).all())
    messages = []
    for type_, at, payload in events:
        if type_ == "participant_message":
            messages.append((at, "you", payload.get("text") if isinstance(payload.get("text"), str) else VOICE_NOTE))
        elif type_ == "caseworker_reply":
            messages.append((at, "caseworker", payload.get("text") if isinstance(payload.get("text"), str) else QUICK_REPLIES.get(payload.get("reply"), payload.get("reply"))))
    sections.append(Section("messages", N_("Meddelanden med din handläggare"), MESSAGES, tuple(messages)))
    sections.append(Section("history", N_("Allt som har hänt"), HISTORY, tuple((at, type_) for type_, at, _payload in events)))
    sections.append(Section("access_log", N_("Vem som har sett dina uppgifter"), ACCESS_LOG, tuple(
        (row.at, row.actor, row.what) for row in await access_log.rows_about(session, pid)
    )))
    # This copy shows everything about them: it is itself an access the log must name.
    await access_log.record(session, actor, access_log.EXPORT, [pid], now=now)
    return Export(pid, participant.language if participant.language in LANGUAGES else SOURCE_LANGUAGE, now, tuple(sections))


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return getattr(value, "value", value)


def as_json(export: Export) -> str:
    """Plain data: keys, codes and ISO dates (UTC times), one object."""
    return json.dumps({
        "participant_id": export.participant_id,
        "exported_at": export.exported_at.isoformat(),
        "sections": [
            {"key": s.key, "columns": [c.key for c in s.columns], "rows": [dict(zip((c.key for c in s.columns), map(_plain, row))) for row in s.rows]}
            for s in export.sections
        ],
    }, ensure_ascii=False, indent=2) + "\n"


_PAGE = Environment(autoescape=True).from_string("""<!DOCTYPE html>
<html lang="{{ lang }}" dir="{{ dir }}">
<head>
<meta charset="utf-8">
<title>{{ title }}</title>
<style>
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #999; padding: 0.3em 0.6em; text-align: start; vertical-align: top; }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<p>{{ intro }}</p>
{% for section in sections %}
<h2>{{ section.title }}</h2>
{% if section.rows %}
<table>
<thead><tr>{% for column in section.columns %}<th>{{ column }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in section.rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody>
</table>
{% else %}
<p>{{ nothing }}</p>
{% endif %}
{% endfor %}
</body>
</html>
""")


def as_html(export: Export, catalogs: Catalogs, tz: ZoneInfo) -> str:
    """One page in the participant's language, for the caseworker to print or send."""
    language = LANGUAGES[export.language]
    texts = catalogs.texts(export.language)
    locale = language.babel_locale

    def shown(value: Any, key: str) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return texts.gettext(YES if value else NO)
        if isinstance(value, datetime):
            return format_datetime(value.astimezone(tz), "d MMMM y HH:mm", tzinfo=tz, locale=locale)
        if isinstance(value, date):
            return format_date(value, "d MMMM y", locale=locale)
        if isinstance(value, list):
            return ", ".join(shown(v, key) for v in value)
        if key == "from":
            return texts.gettext(SENDERS[value])
        if key == "text" and value in _OUR_TEXTS:
            return texts.gettext(value)  # a quick reply or "a voice note": our words, in their language
        code = str(getattr(value, "value", value))
        word = WORDS.get(key, {}).get(code)
        return texts.gettext(word) if word is not None else code

    sections = [
        {"title": texts.gettext(s.title), "columns": [texts.gettext(c.title) for c in s.columns],
         "rows": [[shown(v, c.key) for v, c in zip(row, s.columns)] for row in s.rows]}
        for s in export.sections
    ]
    return _PAGE.render(
        lang=export.language.replace("_", "-"), dir="rtl" if language.rtl else "ltr", title=texts.gettext(PAGE_TITLE),
        intro=texts.gettext(PAGE_INTRO, date=format_date(export.exported_at.astimezone(tz), "d MMMM y", locale=locale)),
        nothing=texts.gettext(NOTHING), sections=sections,
    )


# The codes stored in the columns, as the participant reads them. The button labels are the flows'
# own msgids (already translated); the others are this feature's. A code not here is shown as it is.
WORDS: dict[str, dict[str, str]] = {
    "status": {
        "invited": N_("Inbjuden"), "active": N_("Med i Stegvis"), "stopped": N_("Har stoppat meddelanden"),
        "unreachable": N_("Går inte att nå"), "finished": N_("Har slutat"), "booked": N_("Bokad"), "cancelled": N_("Inställd"),
    },
    "finish_reason": {
        "work": N_("Arbete"), "studies": N_("Studier"), "other_programme": N_("Ett annat program"), "moved": N_("Flyttat"), "other": N_("Något annat"),
    },
    "gender": {"woman": N_("Kvinna"), "man": N_("Man"), "other": N_("Annat"), "unknown": N_("Okänt")},
    "answer": {
        "agreed": N_("Ja, jag godkänner"), "declined": N_("Nej"), "coming": N_("Jag kommer"), "cant_come": N_("Jag kan inte komma"),
        "new_time": N_("Jag behöver en annan tid"), "unanswered": N_("Inget svar"),
    },
    "practice": {"a_lot": N_("Mycket"), "a_little": N_("Lite"), "not_this_week": N_("Inte den här veckan")},
    "places": {"sfi": N_("SFI"), "language_cafe": N_("Språkcafé"), "work": N_("På jobbet eller praktiken"), "home": N_("Hemma"), "friends": N_("Med vänner")},
}
_OUR_TEXTS = frozenset({VOICE_NOTE, *QUICK_REPLIES.values()})
SENDERS = {"you": YOU, "caseworker": CASEWORKER}
