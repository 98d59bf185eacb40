"""The flow engine, run through scripted conversations and checked against golden transcripts.

Every shipped flow is walked along a few paths (agree, decline, bad inputs...) in each of the five
languages, with the real catalogs. The result of each step (messages, buttons, events, the notice,
the state) is compared with ``tests/golden/<flow>/<path>.<language>.json``; translators can read
those files to see exactly what a participant is sent.

After editing a flow, a catalog or the engine, rewrite the golden files and read the diff::

    STEGVIS_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_flow_engine.py

Between every two steps the state goes through JSON and back, as it does through the database,
so the transcripts also prove that a restart in the middle of a conversation changes nothing.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.features.activities import question
from bot.features.activities.schedule import Plan, WeeklyRule
from bot.features.appointments import messages as reminder_messages
from bot.features.checkins import messages as checkin_messages
from bot.features.checkins import weeks as checkin_weeks
from flows.definition import Flow, parse_flow
from flows.engine import (
    IDLE,
    Engine,
    Input,
    MediaInput,
    OutgoingMessage,
    Press,
    Run,
    Sprint,
    State,
    TextInput,
)
from flows.library import DEFINITIONS, load_flows
from locales import LANGUAGES, Catalogs
from locales.format import FSI, PDI
from storage.models import Appointment

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
DOCS = ROOT / "docs" / "flows"
UPDATE = os.environ.get("STEGVIS_UPDATE_GOLDEN") == "1"

VARIABLES = {"name": "Amina", "retention_months": 12}  # what bot/app.py fills in: the first name (Latin script), STEGVIS_RETENTION_MONTHS
TZ = ZoneInfo("Europe/Stockholm")
# The appointment the reminder transcripts are about: booked without a title, moved once (version 2).
APPOINTMENT = Appointment(id=7, version=2, participant_id=1, starts_at=datetime(2026, 11, 24, 10, 30, tzinfo=TZ), place="Nygatan 19", title=None)
REF = reminder_messages.reference(APPOINTMENT)  # "7v2"
# The session the coming_today transcripts are about: activity 12 on Tuesday 9 February 2027, 10:00.
SESSION_DAY = date(2027, 2, 9)
CALENDAR = question.ActivityCalendar(
    12, "Språkcafé", "Nygatan 19", Plan((WeeklyRule(1, time(10, 0)),), timedelta(hours=2), date(2027, 1, 1)), frozenset(), ((1, date(2027, 1, 1), None),)
)
SESSION_REF = question.reference(CALENDAR.id, SESSION_DAY)  # "12d9901"
# The week the checkin transcripts are about: the ISO week 2027-W03 (Monday 18 January 2027).
CHECKIN_WEEK = date(2027, 1, 18)
CHECKIN_REF = checkin_weeks.reference(CHECKIN_WEEK)  # "2027W03"
# Where the clock of a script with a wait starts: Monday 1 March 2027, 09:00 in Stockholm.
CLOCK_START = datetime(2027, 3, 1, 9, 0, tzinfo=TZ)
MAX_CALLBACK_BYTES = 64  # Telegram's limit for callback_data
MAX_BUTTONS = 6

# --- the scripts ------------------------------------------------------------------------------
# One script per (flow, path). "{lang}" is the language of the transcript, "{other}" another one.
#   participant   the language stored on the participant when the flow starts (None: not chosen)
#   appointment   (reminder flow) start tied to APPOINTMENT: ref "7v2", its title, day, time and place
#                 written the way bot/reminders/messages.py writes them in the transcript's language
#   session       (coming_today flow) start tied to CALENDAR on SESSION_DAY: ref "12d9901", the
#                 session's time, the activity's name and place
#   week          (checkin flow) start tied to CHECKIN_WEEK: ref "2027W03", the phrase of that
#                 week and its meaning in the transcript's language
#   at            start at this step instead of the flow's start (a notice)
#   inputs        what happens, in order:
#     ["start", guess]  Engine.start; the guess is Telegram's app language, used until one is chosen
#     ["press", data]   a button press with this callback data
#     ["text", text]    a typed message
#     ["media", kind]   voice, photo, sticker, document ...
#     ["repeat"]        Engine.repeat, as after /start or /help in the middle of a flow
#     ["interrupt", f]  Engine.start(f, over=state): a command (/language) over the open question
#     ["detached", data] Engine.answer_detached: a press on an older message whose thing is still
#                       open (the caller checked), answered on top of the open question
#     ["wait", hours]   the clock moves on this many hours, then Engine.time_out (the flow_timeouts
#                       job); a script with a wait gives every input the clock's now (from CLOCK_START),
#                       and each step records Engine.due_at of the state it leaves
# The language handed to the engine is what bot/ hands it: on start the participant's language or
# else the guess; afterwards the participant's language, which only a language_chosen event changes
# (bot/conversation.py). Each step of a transcript records it under "input". After the start, the
# engine is only given the participant's variables (as /help and a typed text give it): a reminder
# keeps the appointment's values in its state.

SCRIPTS: dict[str, dict[str, dict[str, Any]]] = {
    "onboarding": {
        # Telegram's app language guessed right: the participant confirms it and agrees.
        "agree": {
            "participant": None,
            "inputs": [
                ["start", "{lang}"],
                ["press", "s:onboarding:language:{lang}"],
                ["press", "s:onboarding:privacy:agree"],
            ],
        },
        # No guess (the app is in English, say): the picker in its fixed order, then decline.
        "decline": {
            "participant": None,
            "inputs": [
                ["start", None],
                ["press", "s:onboarding:language:{lang}"],
                ["press", "s:onboarding:privacy:decline"],
            ],
        },
        # Everything but the expected press, before and after each question and after the end.
        # /language in the middle: the privacy notice is asked again in the new language, then agreed.
        "language_midway": {
            "participant": None,
            "inputs": [
                ["start", "{lang}"],
                ["press", "s:onboarding:language:{lang}"],
                ["interrupt", "language"],
                ["press", "s:language:pick:{other}"],
                ["press", "s:onboarding:privacy:agree"],
            ],
        },
        # /language, then a press on the privacy notice under it: that answers the notice.
        "answer_below": {
            "participant": None,
            "inputs": [
                ["start", "{lang}"],
                ["press", "s:onboarding:language:{lang}"],
                ["interrupt", "language"],
                ["press", "s:onboarding:privacy:agree"],
                ["press", "s:language:pick:{other}"],  # stale: the picker was dropped
            ],
        },
        "bad_inputs": {
            "participant": None,
            "inputs": [
                ["start", "{lang}"],
                ["text", "Hej! Jag heter Amina."],
                ["media", "voice"],
                ["media", "sticker"],
                ["press", "s:onboarding:language:en"],  # forged: not one of our languages
                ["press", "hello"],  # forged: not our format at all
                ["press", "s:onboarding:privacy:agree"],  # from an earlier onboarding: stale
                ["repeat"],
                ["press", "s:onboarding:language:{lang}"],
                ["press", "s:onboarding:language:{other}"],  # stale: the picker was answered
                ["text", "ok"],
                ["media", "voice"],
                ["media", "photo"],
                ["press", "s:onboarding:privacy:maybe"],  # forged option
                ["repeat"],
                ["press", "s:onboarding:privacy:agree"],
                ["press", "s:onboarding:privacy:decline"],  # stale: the flow has ended
                ["text", "Tack!"],
                ["media", "sticker"],
                ["repeat"],
            ],
        },
    },
    "reminder": {
        # A reminder, answered «Jag kommer».
        "coming": {
            "participant": "{lang}",
            "appointment": True,
            "inputs": [
                ["start", None],
                ["press", "s:reminder:ask:coming:{ref}"],
            ],
        },
        # «Jag kan inte komma», a reason, and a few words for the caseworker.
        "cant_come_note": {
            "participant": "{lang}",
            "appointment": True,
            "inputs": [
                ["start", None],
                ["press", "s:reminder:ask:cant_come:{ref}"],
                ["press", "s:reminder:reason:child_sick:{ref}"],
                ["text", "Jag ringer dig i morgon."],
            ],
        },
        # «Jag kan inte komma», a reason, and no words («Nej tack»).
        "cant_come_skip": {
            "participant": "{lang}",
            "appointment": True,
            "inputs": [
                ["start", None],
                ["press", "s:reminder:ask:cant_come:{ref}"],
                ["press", "s:reminder:reason:transport:{ref}"],
                ["press", "s:reminder:words:skip:{ref}"],
            ],
        },
        "new_time": {
            "participant": "{lang}",
            "appointment": True,
            "inputs": [
                ["start", None],
                ["press", "s:reminder:ask:new_time:{ref}"],
            ],
        },
        # The appointment moved: the notice, then the same question about the new time.
        "moved": {
            "participant": "{lang}",
            "appointment": True,
            "at": "moved",
            "inputs": [
                ["start", None],
                ["press", "s:reminder:ask:coming:{ref}"],
            ],
        },
        # The appointment is cancelled: a notice, nothing to answer.
        "cancelled": {
            "participant": "{lang}",
            "appointment": True,
            "at": "cancelled",
            "inputs": [
                ["start", None],
                ["press", "s:reminder:ask:coming:{ref}"],  # the reminder's button, after the notice
            ],
        },
        # An older reminder (appointment 8) answered while this one asks why: that one is answered,
        # and this question stays open as it is on screen.
        "older_reminder": {
            "participant": "{lang}",
            "appointment": True,
            "inputs": [
                ["start", None],
                ["press", "s:reminder:ask:cant_come:{ref}"],
                ["detached", "s:reminder:ask:cant_come:8v1"],
                ["press", "s:reminder:reason:sick:8v1"],
                ["press", "s:reminder:words:skip:8v1"],
                ["press", "s:reminder:reason:transport:{ref}"],
                ["repeat"],
            ],
        },
        # /language while the reminder asks: it is asked again, in the new language.
        "language_midway": {
            "participant": "{lang}",
            "appointment": True,
            "inputs": [
                ["start", None],
                ["interrupt", "language"],
                ["press", "s:language:pick:{other}"],
                ["press", "s:reminder:ask:coming:{ref}"],
            ],
        },
        "bad_inputs": {
            "participant": "{lang}",
            "appointment": True,
            "inputs": [
                ["start", None],
                ["text", "ja"],
                ["media", "voice"],
                ["press", "s:reminder:ask:coming:8v1"],  # another appointment's reminder: an older message
                ["press", "s:reminder:ask:coming:7v1"],  # this appointment before it moved: an older message
                ["press", "s:reminder:ask:coming"],  # forged: no ref
                ["press", "s:reminder:ask:maybe:{ref}"],  # forged option
                ["press", "s:reminder:reason:sick:{ref}"],  # a question not asked yet
                ["repeat"],
                ["press", "s:reminder:ask:cant_come:{ref}"],
                ["press", "s:reminder:ask:coming:{ref}"],  # stale: answered
                ["text", "Jag är sjuk"],  # words where a button is wanted
                ["press", "s:reminder:reason:other:{ref}"],
                ["text", "Jag " * 51],  # 204 characters, 203 without the last space: too long
                ["media", "photo"],
                ["repeat"],
                ["text", "   "],  # only spaces: no answer
                ["text", "Bussen går inte den dagen."],
                ["press", "s:reminder:words:skip:{ref}"],  # stale: the flow has ended
                ["text", "Tack!"],
            ],
        },
    },
    "coming_today": {
        # «Ja».
        "coming": {
            "participant": "{lang}",
            "session": True,
            "inputs": [
                ["start", None],
                ["press", "s:coming_today:ask:coming:{session}"],
            ],
        },
        # «Nej», a reason, and a few words.
        "not_coming_note": {
            "participant": "{lang}",
            "session": True,
            "inputs": [
                ["start", None],
                ["press", "s:coming_today:ask:not_coming:{session}"],
                ["press", "s:coming_today:reason:sick:{session}"],
                ["text", "Jag har feber."],
            ],
        },
        # «Nej», a reason, «Nej tack»; and what is not an answer on the way.
        "bad_inputs": {
            "participant": "{lang}",
            "session": True,
            "inputs": [
                ["start", None],
                ["text", "kanske"],
                ["media", "voice"],
                ["press", "s:coming_today:ask:coming:12d9900"],  # the question of another day: an older message
                ["press", "s:coming_today:ask:maybe:{session}"],  # forged option
                ["repeat"],
                ["press", "s:coming_today:ask:not_coming:{session}"],
                ["press", "s:coming_today:reason:transport:{session}"],
                ["press", "s:coming_today:words:skip:{session}"],
                ["press", "s:coming_today:ask:coming:{session}"],  # stale: the flow has ended
            ],
        },
    },
    "checkin": {
        # A lot, three places chosen (one of them chosen and taken back), 🙂, the phrase.
        "all_steps": {
            "participant": "{lang}",
            "week": True,
            "inputs": [
                ["start", None],
                ["press", "s:checkin:practice:a_lot:{week}"],
                ["press", "s:checkin:places:sfi:{week}"],
                ["press", "s:checkin:places:home:{week}"],
                ["press", "s:checkin:places:sfi:{week}"],
                ["press", "s:checkin:places:language_cafe:{week}"],
                ["press", "s:checkin:places:friends:{week}"],
                ["press", "s:checkin:places:done:{week}"],
                ["press", "s:checkin:confidence:f4:{week}"],
            ],
        },
        # Not this week: «Where?» is skipped.
        "not_this_week": {
            "participant": "{lang}",
            "week": True,
            "inputs": [
                ["start", None],
                ["press", "s:checkin:practice:not_this_week:{week}"],
                ["press", "s:checkin:confidence:f2:{week}"],
            ],
        },
        # The nudge a day later: a gentle line, then the first question.
        "nudge": {
            "participant": "{lang}",
            "week": True,
            "at": "nudge",
            "inputs": [
                ["start", None],
                ["press", "s:checkin:practice:a_little:{week}"],
                ["press", "s:checkin:places:work:{week}"],
                ["press", "s:checkin:places:done:{week}"],
                ["press", "s:checkin:confidence:f3:{week}"],
            ],
        },
        # What is not an answer: a sticker, long text, Done with nothing chosen, forged and old
        # presses; each asks again (or pops up a note) and records nothing.
        "bad_inputs": {
            "participant": "{lang}",
            "week": True,
            "inputs": [
                ["start", None],
                ["media", "sticker"],
                ["text", "Jag övade mycket på jobbet och hemma med barnen, varje dag. " * 30],
                ["press", "s:checkin:practice:a_lot:{week}"],
                ["press", "s:checkin:practice:a_little:{week}"],  # stale: already answered
                ["press", "s:checkin:places:done:{week}"],  # nothing chosen yet
                ["press", "s:checkin:places:library:{week}"],  # forged option
                ["text", "hemma"],
                ["press", "s:checkin:places:home:{week}"],
                ["media", "sticker"],
                ["press", "s:checkin:places:done:{week}"],
                ["press", "s:checkin:confidence:f9:{week}"],  # forged face
                ["press", "s:checkin:confidence:f5:{week}"],
                ["press", "s:checkin:confidence:f1:{week}"],  # stale: the flow has ended
            ],
        },
    },
    "language": {
        # /language, from another language to this one.
        "switch": {
            "participant": "{other}",
            "inputs": [
                ["start", None],
                ["press", "s:language:pick:{lang}"],
            ],
        },
        "bad_inputs": {
            "participant": "{lang}",
            "inputs": [
                ["start", None],
                ["text", "svenska"],
                ["media", "voice"],
                ["press", "s:language:pick:xx"],  # forged language
                ["press", "s:onboarding:privacy:agree"],  # stale: a button from the onboarding
                ["repeat"],
                ["press", "s:language:pick:{lang}"],
                ["press", "s:language:pick:{other}"],  # stale: already answered
                ["text", "tack"],
            ],
        },
    },
    "message": {
        # /message: a sticker, a text over the limit, then a text as written.
        "written": {
            "participant": "{lang}",
            "inputs": [
                ["start", None],
                ["media", "sticker"],
                ["text", "x" * 1001],
                ["text", "<b>Hej</b> \u200f🙂"],
            ],
        },
        # /message, then Avbryt: nothing goes to the caseworker.
        "cancelled": {
            "participant": "{lang}",
            "inputs": [
                ["start", None],
                ["press", "s:message:write:cancel"],
                ["text", "hej"],
            ],
        },
    },
    "course_eval": {
        # The course evaluation sent to a group: three presses and a comment as written.
        "answered": {
            "participant": "{lang}",
            "inputs": [
                ["start", None],
                ["text", "bra"],
                ["press", "s:course_eval:overall:good"],
                ["press", "s:course_eval:useful:a_little"],
                ["press", "s:course_eval:pace:too_fast"],
                ["text", "Läraren var bra 🙂"],
            ],
        },
        # No answer for a day: the reminder, answered; the answer counts as the first question's.
        # (Nothing happens an hour before the day is up.)
        "reminded": {
            "participant": "{lang}",
            "inputs": [
                ["start", None],
                ["wait", 23],
                ["wait", 1],
                ["repeat"],
                ["press", "s:course_eval:overall:good"],  # the first question's button, still on screen: answers the reminder
                ["press", "s:course_eval:reminder:okay"],  # the reminder's own, now answered
                ["press", "s:course_eval:useful:a_lot"],
                ["press", "s:course_eval:pace:right"],
                ["press", "s:course_eval:comment:skip"],
            ],
        },
        # No answer to the question nor to the reminder: evaluation_unanswered, and it is over.
        "unanswered": {
            "participant": "{lang}",
            "inputs": [
                ["start", None],
                ["wait", 24],
                ["wait", 24],
                ["press", "s:course_eval:reminder:good"],
            ],
        },
        # The comment skipped; a sticker first.
        "skipped": {
            "participant": "{lang}",
            "inputs": [
                ["start", None],
                ["press", "s:course_eval:overall:bad"],
                ["press", "s:course_eval:useful:nothing"],
                ["press", "s:course_eval:pace:right"],
                ["media", "sticker"],
                ["press", "s:course_eval:comment:skip"],
            ],
        },
    },
}


def other_language(code: str) -> str:
    return "ar" if code == "sv" else "sv"


CASES = [(flow, path, code) for flow, paths in SCRIPTS.items() for path in paths for code in LANGUAGES]


def golden_path(flow: str, path: str, code: str) -> Path:
    return GOLDEN / flow / f"{path}.{code}.json"


@pytest.fixture(scope="module")
def catalogs() -> Catalogs:
    return Catalogs()


@pytest.fixture(scope="module")
def flows() -> dict[str, Flow]:
    return load_flows()


@pytest.fixture(scope="module")
def engine(flows: dict[str, Flow], catalogs: Catalogs) -> Engine:
    return Engine(flows, catalogs)


@pytest.fixture(scope="module")
def restarted_engine() -> Engine:
    """A second engine, as in a new process: transcripts alternate between the two."""
    return Engine(load_flows(), Catalogs())


# --- running a script -------------------------------------------------------------------------


def restarted(state: State) -> State:
    """The state as the next process reads it back from the database."""
    raw = json.loads(json.dumps(state.to_dict(), ensure_ascii=False))
    again = State.from_dict(raw)
    assert again == state, f"state does not survive JSON: {state!r} became {again!r}"
    return again


def record_input(flow: str, item: list[Any], language: str | None, start: dict[str, Any]) -> dict[str, Any]:
    kind = item[0]
    if kind == "start":
        return {"start": flow, **start, "guess": item[1], "language": language}
    if kind == "repeat":
        return {"repeat": True, "language": language}
    if kind == "interrupt":
        return {"interrupt": item[1], "language": language}
    if kind == "wait":
        return {"wait_hours": item[1], "language": language}
    return {kind: item[1], "language": language}


def record_message(message: OutgoingMessage) -> dict[str, Any]:
    recorded: dict[str, Any] = {"text": message.text}
    if message.buttons:
        recorded["buttons"] = [[{"label": b.label, "data": b.data} for b in row] for row in message.buttons]
    return recorded


def record(sprint: Sprint) -> dict[str, Any]:
    return {
        "messages": [record_message(message) for message in sprint.messages],
        "events": [{"type": e.type, "payload": e.payload, "flow": e.flow, "step": e.step, **({"ref": e.ref} if e.ref else {})} for e in sprint.events],
        "chosen": sprint.chosen,
        "notice": sprint.notice,
        **({"update": record_message(sprint.update)} if sprint.update is not None else {}),
        "language": sprint.language,
        "state": sprint.state.to_dict(),
    }


def transcript(engines: tuple[Engine, ...], flow: str, path: str, code: str) -> dict[str, Any]:
    script = SCRIPTS[flow][path]
    fill = {"lang": code, "other": other_language(code), "ref": REF, "session": SESSION_REF, "week": CHECKIN_REF}

    def filled(value: Any) -> Any:
        return value.format(**fill) if isinstance(value, str) else value

    participant = filled(script["participant"])  # the language stored on the participant
    start: dict[str, Any] = {key: script[key] for key in ("at",) if key in script}
    variables = VARIABLES
    if script.get("appointment"):
        start["ref"] = REF
        texts = engines[0].catalogs.texts(participant)
        variables = {**VARIABLES, **reminder_messages.variables(APPOINTMENT, texts, TZ)}
    if script.get("session"):
        start["ref"] = SESSION_REF
        texts = engines[0].catalogs.texts(participant)
        variables = {**VARIABLES, **question.variables(CALENDAR, SESSION_DAY, texts, TZ)}
    if script.get("week"):
        start["ref"] = CHECKIN_REF
        texts = engines[0].catalogs.texts(participant)
        variables = {**VARIABLES, **checkin_messages.variables(CHECKIN_WEEK, texts)}
    state = IDLE
    steps = []
    guess = None  # Telegram's app language, which the bot keeps using until one is chosen
    clocked = any(raw[0] == "wait" for raw in script["inputs"])
    now = CLOCK_START if clocked else None
    for number, raw in enumerate(script["inputs"]):
        item = [filled(x) for x in raw]
        state = restarted(state)
        engine = engines[number % len(engines)]
        if item[0] == "start":
            guess = item[1]
            language = participant or guess
            sprint = engine.start(flow, language=language, variables=variables, now=now, **start)
        elif item[0] == "wait":
            assert now is not None
            now += timedelta(hours=item[1])
            language = participant or guess
            sprint = engine.time_out(state, now, language=language, variables=VARIABLES)
        elif item[0] == "repeat":
            language = participant or guess
            sprint = engine.repeat(state, language=language, variables=VARIABLES)
        elif item[0] == "interrupt":
            language = participant or guess
            sprint = engine.start(item[1], language=language, variables=VARIABLES, over=state)
        elif item[0] == "detached":
            language = participant or guess
            thing = reminder_messages.parse_reference(item[1].split(":")[-1])

            def same_thing(run: Run) -> bool:
                booking = reminder_messages.parse_reference(run.ref)
                return booking is not None and thing is not None and booking[0] == thing[0]

            sprint = engine.answer_detached(state, item[1], language=language, variables=variables, same_thing=same_thing)
        else:
            language = participant or guess
            given: Input = {"press": Press, "text": TextInput, "media": MediaInput}[item[0]](item[1])
            sprint = engine.resume(state, given, language=language, variables=VARIABLES, now=now)
        check_sprint(engine, sprint)
        timing = {}
        if clocked:
            due = engine.due_at(sprint.state)
            timing = {"now": now.isoformat() if now else None, "due_at": due.isoformat() if due else None}
        steps.append({"input": record_input(flow, item, language, start), **record(sprint), **timing})
        for event in sprint.events:
            if event.type == "language_chosen":
                participant = event.payload["language"]
                assert sprint.language == participant
        state = sprint.state
    return {"flow": flow, "path": path, "language": code, "variables": variables, "steps": steps}


# --- what must hold in every transcript, whatever the golden file says ------------------------

_ISOLATED = re.compile(f"{FSI}[^{FSI}{PDI}]*{PDI}")
_LEFT_TO_RIGHT = re.compile(r"[A-Za-z\u00C0-\u024F/]")


def unisolated_latin(text: str) -> list[str]:
    """Latin letters or a /command left bare in a right-to-left text: they would be reordered."""
    bare = _ISOLATED.sub("", text)
    return _LEFT_TO_RIGHT.findall(bare)


def check_sprint(engine: Engine, sprint: Sprint) -> None:
    rtl = sprint.language is not None and LANGUAGES[sprint.language].rtl
    for message in (*sprint.messages, *((sprint.update,) if sprint.update is not None else ())):
        buttons = [button for row in message.buttons for button in row]
        assert len(buttons) <= MAX_BUTTONS, message
        for button in buttons:
            assert len(button.data.encode("utf-8")) <= MAX_CALLBACK_BYTES, button
            assert button.label.strip(), button
        picker = any(engine.flows[b.data.split(":")[1]].steps[b.data.split(":")[2]].language_picker for b in buttons)
        if rtl and not picker:
            assert not unisolated_latin(message.text), f"bare Latin in a right-to-left text: {message.text!r}"
            for button in buttons:
                assert not unisolated_latin(button.label), button
        elif rtl and "\n\n" in message.text:
            # A picker asks in every language (each line in its own); only the hint above it is the participant's.
            hint = message.text.split("\n\n", 1)[0]
            assert not unisolated_latin(hint), f"bare Latin in a right-to-left text: {hint!r}"
    if rtl:
        for extra in (sprint.chosen, sprint.notice):
            assert extra is None or not unisolated_latin(extra), extra


# --- the golden files -------------------------------------------------------------------------


def dump(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


@pytest.mark.parametrize(("flow", "path", "code"), CASES, ids=[f"{f}-{p}-{c}" for f, p, c in CASES])
def test_golden_transcript(engine: Engine, restarted_engine: Engine, flow: str, path: str, code: str) -> None:
    actual = dump(transcript((engine, restarted_engine), flow, path, code))
    file = golden_path(flow, path, code)
    if UPDATE:
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(actual, encoding="utf-8")
        return
    if not file.exists():
        pytest.fail(f"no golden file {file.relative_to(ROOT)}; write it with STEGVIS_UPDATE_GOLDEN=1 and read it")
    expected = file.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True), actual.splitlines(keepends=True),
                fromfile=f"{file.relative_to(ROOT)} (golden)", tofile="now",
            )
        )
        pytest.fail(f"transcript differs from the golden file; if the change is right, rerun with "
                    f"STEGVIS_UPDATE_GOLDEN=1 and commit the files\n{diff}", pytrace=False)


def test_every_flow_has_golden_transcripts() -> None:
    """A new flow file needs scripts here and golden files, in every language (like goflow's base_test)."""
    shipped = sorted(path.stem for path in DEFINITIONS.glob("*.yaml"))
    assert shipped, f"no flow files in {DEFINITIONS}"
    missing = [flow for flow in shipped if flow not in SCRIPTS]
    assert not missing, f"flows without a script in SCRIPTS (tests/test_flow_engine.py): {missing}"
    expected = {golden_path(*case) for case in CASES}
    if not UPDATE:
        absent = sorted(str(p.relative_to(ROOT)) for p in expected if not p.exists())
        assert not absent, f"golden files missing (run with STEGVIS_UPDATE_GOLDEN=1): {absent}"
        orphans = sorted(str(p.relative_to(ROOT)) for p in GOLDEN.glob("*/*.json") if p not in expected)
        assert not orphans, f"golden files no script writes any more: delete them: {orphans}"
    gone = sorted(set(SCRIPTS) - set(shipped))
    assert not gone, f"scripts for flows that no longer exist: {gone}"


def test_every_flow_has_a_caseworker_page(flows: dict[str, Flow]) -> None:
    """docs/flows/<flow>.md describes the flow for caseworkers; its diagram must name every step."""
    for flow in flows.values():
        page = DOCS / f"{flow.id}.md"
        assert page.exists(), f"no caseworker page {page.relative_to(ROOT)} for flow {flow.id!r}"
        text = page.read_text(encoding="utf-8")
        assert "```mermaid" in text, f"{page.name}: no mermaid diagram"
        diagram = text.split("```mermaid", 1)[1].split("```", 1)[0]
        for step in flow.steps:
            assert re.search(rf"\b{step}\b", diagram), f"{page.name}: the diagram does not show step {step!r}"
        # The Swedish texts are quoted, so the page is still true after a text is changed.
        for _line, msgid, where in flow.texts():
            for line in msgid.splitlines():
                assert line in text, f"{page.name}: does not quote the text of {where}: {line!r}"


# --- engine rules, one at a time --------------------------------------------------------------


def at_privacy(engine: Engine, language: str = "sv") -> State:
    sprint = engine.start("onboarding", language=language, variables=VARIABLES)
    sprint = engine.resume(sprint.state, Press(f"s:onboarding:language:{language}"), language=language, variables=VARIABLES)
    assert sprint.state == State((Run("onboarding", 1, "privacy", {"language": language}),))
    return sprint.state


def test_stale_button_repeats_the_current_question(engine: Engine) -> None:
    state = at_privacy(engine)
    sprint = engine.resume(state, Press("s:onboarding:language:ar"), language="sv", variables=VARIABLES)
    assert sprint.notice == "Den frågan är redan besvarad."
    assert sprint.events == ()
    assert sprint.state == state
    assert sprint.language == "sv"  # the old picker changes nothing, not even the language
    assert sprint.chosen is None
    [question] = sprint.messages
    assert question == engine.repeat(state, language="sv", variables=VARIABLES).messages[0]


def test_stale_button_in_the_participants_language(engine: Engine) -> None:
    state = at_privacy(engine, "so")
    sprint = engine.resume(state, Press("s:onboarding:language:so"), language="so", variables=VARIABLES)
    assert sprint.notice == "Su'aashaas horay ayaa looga jawaabay."


def test_stale_button_after_the_flow_ended(engine: Engine) -> None:
    state = at_privacy(engine)
    done = engine.resume(state, Press("s:onboarding:privacy:agree"), language="sv", variables=VARIABLES)
    assert done.state == IDLE
    again = engine.resume(done.state, Press("s:onboarding:privacy:decline"), language="sv", variables=VARIABLES)
    assert (again.notice, again.messages, again.events, again.state) == ("Den frågan är redan besvarad.", (), (), IDLE)


@pytest.mark.parametrize(
    "data",
    [
        "",
        "hello",
        "s:onboarding:privacy",  # too few parts
        "s:onboarding:privacy:agree:x",  # too many
        "x:onboarding:privacy:agree",  # not our prefix
        "s:onboarding:privacy:maybe",  # no such button
        "s:onboarding:privacy:sv",  # a language on a question that is not the picker
        "s:nosuch:privacy:agree",  # no such flow
        "s:onboarding:nosuch:agree",  # no such step
        "s:onboarding:privacy:" + "a" * 200,
    ],
)
def test_forged_data_changes_nothing(engine: Engine, data: str) -> None:
    state = at_privacy(engine)
    sprint = engine.resume(state, Press(data), language="sv", variables=VARIABLES)
    assert sprint.notice == "Den knappen fungerar inte."
    assert sprint.state == state
    assert sprint.events == ()
    assert sprint.chosen is None
    assert [m.text for m in sprint.messages] == [engine.repeat(state, language="sv", variables=VARIABLES).messages[0].text]


def test_forged_language_on_the_picker(engine: Engine) -> None:
    start = engine.start("language", language="ti", variables=VARIABLES)
    sprint = engine.resume(start.state, Press("s:language:pick:en"), language="ti", variables=VARIABLES)
    assert sprint.notice == "እዚ መጠወቕ እዚ ኣይሰርሕን እዩ።"
    assert (sprint.state, sprint.language, sprint.events) == (start.state, "ti", ())
    assert sprint.messages == start.messages


def test_forged_press_while_idle(engine: Engine) -> None:
    sprint = engine.resume(IDLE, Press("s:nosuch:step:x"), language="ar", variables=VARIABLES)
    assert (sprint.notice, sprint.messages, sprint.events, sprint.state) == ("هذا الزر لا يعمل.", (), (), IDLE)


@pytest.mark.parametrize(
    "state",
    [
        State((Run("welcome_v1", 1, "intro", {"intro": "yes"}),)),  # the whole flow was removed
        State((Run("onboarding", 1, "consent", {"language": "sv"}),)),  # the step was renamed
        State.from_dict({"runs": [{"flow": "onboarding", "step": None, "data": {}}]}),  # saved between two steps by an older version
        State.from_dict({"runs": [{"flow": None, "step": "privacy", "data": {}}]}),
    ],
    ids=["flow-removed", "step-removed", "no-step", "no-flow"],
)
@pytest.mark.parametrize(
    "given",
    [Press("s:welcome_v1:intro:yes"), Press("s:onboarding:privacy:agree"), TextInput("hej"), MediaInput("voice")],
    ids=["press-gone", "press-known", "text", "voice"],
)
def test_a_flow_edited_away_under_a_participant_resumes_idle(engine: Engine, state: State, given: Input) -> None:
    sprint = engine.resume(restarted(state), given, language="sv", variables=VARIABLES)
    assert sprint.state == IDLE
    assert sprint.events == ()
    for message in sprint.messages:
        assert not message.buttons
    assert engine.repeat(state, language="sv", variables=VARIABLES) == Sprint(IDLE, "sv")


def test_stale_press_of_a_removed_flow_says_the_button_does_not_work(engine: Engine) -> None:
    sprint = engine.resume(State((Run("welcome_v1", 1, "intro", {}),)), Press("s:welcome_v1:intro:yes"), language="sv")
    assert sprint.notice == "Den knappen fungerar inte."


def test_missing_variable_is_a_clear_error_before_anything_is_sent(engine: Engine) -> None:
    with pytest.raises(ValueError, match=r"^flow 'onboarding' needs the variables \['name', 'retention_months'\]"):
        engine.start("onboarding", language="sv", variables={})
    state = at_privacy(engine)
    with pytest.raises(ValueError, match=r"needs the variables \['name', 'retention_months'\]"):
        engine.resume(state, TextInput("hej"), language="sv", variables={"caseworker": "Eva"})
    with pytest.raises(ValueError, match=r"needs the variables \['name', 'retention_months'\]"):
        engine.repeat(state, language="sv")


def test_flows_without_variables_need_none(engine: Engine) -> None:
    assert engine.start("language", language="sv").state == State((Run("language", 1, "pick", {}),))


@pytest.mark.parametrize(
    ("guess", "order"),
    [
        (None, ["sv", "ar", "so", "fa_AF", "ti"]),
        ("sv", ["sv", "ar", "so", "fa_AF", "ti"]),
        ("fa_AF", ["fa_AF", "sv", "ar", "so", "ti"]),
        ("ti", ["ti", "sv", "ar", "so", "fa_AF"]),
        ("en", ["sv", "ar", "so", "fa_AF", "ti"]),  # not ours: the fixed order
    ],
)
def test_picker_lists_the_guess_first(engine: Engine, guess: str | None, order: list[str]) -> None:
    [message] = engine.start("onboarding", language=guess, variables=VARIABLES).messages
    assert [row[0].data for row in message.buttons] == [f"s:onboarding:language:{code}" for code in order]
    assert [row[0].label for row in message.buttons] == [LANGUAGES[code].native_name for code in order]
    # The prompt is written in every language, in the same order as the buttons.
    catalogs = engine.catalogs
    assert message.text.splitlines() == [catalogs.texts(code).gettext("Välj språk.") for code in order]


def test_choosing_a_language_answers_in_it(engine: Engine) -> None:
    start = engine.start("onboarding", language=None, variables=VARIABLES)
    sprint = engine.resume(start.state, Press("s:onboarding:language:fa_AF"), language=None, variables=VARIABLES)
    assert sprint.language == "fa_AF"
    assert sprint.chosen == "دری"
    assert sprint.events[0].type == "language_chosen" and sprint.events[0].payload == {"language": "fa_AF"}
    assert sprint.messages[0].text.startswith(f"سلام {FSI}Amina{PDI}")
    assert [row[0].label for row in sprint.messages[0].buttons] == ["بله، موافقم", "نه"]


def test_consent_event_carries_the_notice_version(engine: Engine) -> None:
    state = at_privacy(engine)
    sprint = engine.resume(state, Press("s:onboarding:privacy:agree"), language="sv", variables=VARIABLES)
    assert [(e.type, e.payload, e.flow, e.step) for e in sprint.events] == [
        ("consent", {"answer": "agreed", "notice_version": "2026-12"}, "onboarding", "privacy"),
        ("flow_completed", {"flow": "onboarding"}, "onboarding", "welcome"),
    ]
    assert sprint.chosen == "Ja, jag godkänner"
    assert sprint.state == IDLE


def test_repeat_sends_the_waiting_question_again(engine: Engine) -> None:
    state = at_privacy(engine, "ar")
    first = engine.start("onboarding", language="ar", variables=VARIABLES, at="privacy")
    again = engine.repeat(state, language="ar", variables=VARIABLES)
    assert again.messages == first.messages
    assert (again.state, again.events, again.notice, again.chosen) == (state, (), None, None)
    assert engine.repeat(IDLE, language="ar", variables=VARIABLES) == Sprint(IDLE, "ar")


def test_repeat_of_the_picker_follows_the_current_language(engine: Engine) -> None:
    state = engine.start("language", language="so").state
    [message] = engine.repeat(state, language="so").messages
    assert message.buttons[0][0].data == "s:language:pick:so"


def test_text_and_media_while_idle(engine: Engine) -> None:
    def reply(given: Input) -> list[str]:
        sprint = engine.resume(IDLE, given, language="sv")
        assert (sprint.state, sprint.events, sprint.notice) == (IDLE, (), None)
        return [m.text for m in sprint.messages]

    assert reply(TextInput("hej")) == ["Jag kan inte läsa fria meddelanden. Skriv /help för hjälp, eller kontakta din handläggare."]
    assert reply(TextInput("x" * 1000)) == reply(TextInput("hej"))
    assert reply(TextInput("x" * 1001)) == ["Ditt meddelande är för långt för mig. Skriv /help för hjälp, eller kontakta din handläggare."]
    assert reply(MediaInput("voice")) == ["Jag kan inte lyssna på röstmeddelanden. Ring din handläggare om du vill prata."]
    assert reply(MediaInput("document")) == ["Jag kan inte öppna bilder, filer eller klistermärken."]


def test_rtl_texts_isolate_names_and_commands(engine: Engine) -> None:
    [privacy] = engine.start("onboarding", language="ar", variables={"name": "Amina", "retention_months": 12}, at="privacy").messages
    assert f"{FSI}Amina{PDI}" in privacy.text
    assert f"{FSI}Stegvis{PDI}" in privacy.text
    assert f"{FSI}/stop{PDI}" in privacy.text
    assert not unisolated_latin(privacy.text)
    # A name in Arabic script is isolated too, so its punctuation cannot jump.
    [privacy] = engine.start("onboarding", language="fa_AF", variables={"name": "احمد", "retention_months": 12}, at="privacy").messages
    assert f"{FSI}احمد{PDI}" in privacy.text


def test_ltr_texts_are_not_isolated(engine: Engine) -> None:
    for code in ("sv", "so", "ti"):
        [privacy] = engine.start("onboarding", language=code, variables=VARIABLES, at="privacy").messages
        assert FSI not in privacy.text and PDI not in privacy.text


# A small flow that uses what the shipped ones do not: steps that say and go on, a button
# without next, the default event.
CHAIN = """\
spec: 1
flow: chain
start: hello
variables: [name]
steps:
  hello:
    say: Hej {name}.
    next: info
  info:
    say: Mötet är på tisdag.
    next: ask
  ask:
    say: Kommer du?
    buttons:
      - {id: come, label: Ja, next: bye}
      - {id: away, label: Nej}
  bye:
    say: Vi ses!
    end: true
"""


@pytest.fixture
def chain_engine(catalogs: Catalogs) -> Engine:
    return Engine({"chain": parse_flow(CHAIN, file="chain.yaml")}, catalogs)


def test_steps_that_go_on_are_sent_together(chain_engine: Engine) -> None:
    sprint = chain_engine.start("chain", language="sv", variables={"name": "Ali"})
    assert [m.text for m in sprint.messages] == ["Hej Ali.", "Mötet är på tisdag.", "Kommer du?"]
    assert [m.buttons != () for m in sprint.messages] == [False, False, True]
    assert sprint.state == State((Run("chain", 1, "ask", {}),))
    assert sprint.events == ()


def test_default_event_and_a_button_that_ends_the_flow(chain_engine: Engine) -> None:
    state = chain_engine.start("chain", language="sv", variables={"name": "Ali"}).state
    sprint = chain_engine.resume(restarted(state), Press("s:chain:ask:away"), language="sv", variables={"name": "Ali"})
    assert sprint.messages == ()
    assert [(e.type, e.payload, e.step) for e in sprint.events] == [
        ("answered", {"answer": "away"}, "ask"),
        ("flow_completed", {"flow": "chain"}, "ask"),
    ]
    assert (sprint.state, sprint.chosen) == (IDLE, "Nej")


def test_answers_are_kept_in_the_state_until_the_flow_ends(chain_engine: Engine) -> None:
    # Untranslated texts fall back to the Swedish source, so a new flow never shows an empty message.
    state = chain_engine.start("chain", language="ti", variables={"name": "Ali"}).state
    sprint = chain_engine.resume(state, Press("s:chain:ask:come"), language="ti", variables={"name": "Ali"})
    assert [m.text for m in sprint.messages] == ["Vi ses!"]
    assert sprint.state == IDLE


# --- runs tied to one thing (a ref), and typed answers -----------------------------------------


def reminder_variables(code: str, catalogs: Catalogs) -> dict[str, str]:
    return reminder_messages.variables(APPOINTMENT, catalogs.texts(code), TZ)


def at_reminder(engine: Engine, code: str = "sv", ref: str = REF) -> State:
    return engine.start("reminder", language=code, variables=reminder_variables(code, engine.catalogs), ref=ref).state


def test_a_ref_is_kept_in_the_state_and_carried_by_every_button(engine: Engine) -> None:
    sprint = engine.start("reminder", language="sv", variables=reminder_variables("sv", engine.catalogs), ref="7v2")
    assert sprint.state.ref == "7v2" and sprint.state.top.data["ref"] == "7v2"
    [question] = sprint.messages
    assert [row[0].data for row in question.buttons] == ["s:reminder:ask:coming:7v2", "s:reminder:ask:cant_come:7v2", "s:reminder:ask:new_time:7v2"]
    answered = engine.resume(restarted(sprint.state), Press("s:reminder:ask:cant_come:7v2"), language="sv", variables=VARIABLES)
    assert [event.ref for event in answered.events] == ["7v2"]
    assert all(button.data.endswith(":7v2") for row in answered.messages[0].buttons for button in row)


def test_flows_started_without_a_ref_keep_no_ref_and_no_values(engine: Engine) -> None:
    sprint = engine.start("onboarding", language="sv", variables=VARIABLES, at="privacy")
    assert sprint.state.ref is None and sprint.state.top.data == {}
    assert all(button.data.count(":") == 3 for row in sprint.messages[0].buttons for button in row)


@pytest.mark.parametrize("ref", ["", "7:2", "7 2", "a" * 12, "ä", "7v2\n"])
def test_a_ref_that_would_not_fit_or_parse_is_refused_before_anything_is_sent(engine: Engine, ref: str) -> None:
    with pytest.raises(ValueError, match=r"^ref .* must be 1-11 characters of A-Z a-z 0-9 _ \. -"):
        engine.start("reminder", language="sv", variables=reminder_variables("sv", engine.catalogs), ref=ref)


def test_the_longest_ids_and_ref_fit_in_callback_data(catalogs: Catalogs) -> None:
    longest = "a" * 16
    source = f"spec: 1\nflow: {longest}\nstart: {longest}\nsteps:\n  {longest}:\n    say: Kommer du?\n    buttons:\n      - {{id: {longest}, label: Ja}}\n"
    engine = Engine({longest: parse_flow(source)}, catalogs)
    [message] = engine.start(longest, language="sv", ref="9" * 11).messages
    assert len(message.buttons[0][0].data.encode()) == MAX_CALLBACK_BYTES


@pytest.mark.parametrize(
    ("data", "notice"),
    [
        ("s:reminder:ask:coming:8v2", "Den frågan är redan besvarad."),  # another appointment's reminder
        ("s:reminder:ask:coming:7v1", "Den frågan är redan besvarad."),  # this one before it moved
        ("s:reminder:ask:coming", "Den knappen fungerar inte."),  # we never made a reminder button without a ref
        ("s:reminder:ask:coming:7v2:x", "Den knappen fungerar inte."),
    ],
)
def test_a_press_with_another_ref_is_a_press_on_an_old_message(engine: Engine, data: str, notice: str) -> None:
    state = at_reminder(engine)
    sprint = engine.resume(state, Press(data), language="sv", variables=VARIABLES)
    assert (sprint.notice, sprint.events, sprint.state, sprint.chosen) == (notice, (), state, None)
    assert sprint.messages == engine.repeat(state, language="sv").messages


def test_a_ref_on_a_flow_without_one_does_not_work(engine: Engine) -> None:
    state = at_privacy(engine)
    sprint = engine.resume(state, Press("s:onboarding:privacy:agree:7v2"), language="sv", variables=VARIABLES)
    assert (sprint.notice, sprint.events, sprint.state) == ("Den knappen fungerar inte.", (), state)


def test_a_run_with_a_ref_keeps_its_values_for_a_question_asked_again(engine: Engine) -> None:
    state = restarted(at_reminder(engine, "ar"))
    again = engine.repeat(state, language="ar")  # /help: the caller knows nothing about the appointment
    assert again.messages == engine.start("reminder", language="ar", variables=reminder_variables("ar", engine.catalogs), ref=REF).messages
    # Fresh values from the caller win, and are kept from then on.
    fresh = {**reminder_variables("ar", engine.catalogs), "place": "Skäggetorp centrum"}
    sprint = engine.resume(state, TextInput("نعم"), language="ar", variables=fresh)
    assert f"{FSI}Skäggetorp centrum{PDI}" in sprint.messages[0].text
    assert sprint.state.top.data["variables"]["place"] == "Skäggetorp centrum"


def at_words(engine: Engine, code: str = "sv") -> State:
    state = at_reminder(engine, code)
    state = engine.resume(state, Press(f"s:reminder:ask:cant_come:{REF}"), language=code).state
    state = engine.resume(state, Press(f"s:reminder:reason:sick:{REF}"), language=code).state
    assert (state.flow, state.step) == ("reminder", "words")
    return state


def test_a_typed_answer_is_an_event_and_never_kept_in_the_state(engine: Engine) -> None:
    state = at_words(engine)
    sprint = engine.resume(state, TextInput("  Jag har feber.  "), language="sv")
    assert [(e.type, e.payload, e.step, e.ref) for e in sprint.events] == [
        ("appointment_decline_note", {"text": "Jag har feber."}, "words", REF),
        ("flow_completed", {"flow": "reminder"}, "thanks", REF),
    ]
    assert sprint.state == IDLE and sprint.chosen is None
    assert "feber" not in json.dumps(engine.resume(state, TextInput("x"), language="sv").state.to_dict())


@pytest.mark.parametrize(("code", "hint"), [("sv", "Det är för långt. Skriv högst 200 tecken."), ("ar", f"النص طويل جدًا. اكتب {FSI}200{PDI} حرف على الأكثر.")])
def test_a_typed_answer_that_is_too_long_asks_again_and_records_nothing(engine: Engine, code: str, hint: str) -> None:
    state = at_words(engine, code)
    sprint = engine.resume(state, TextInput("x" * 201), language=code)
    assert (sprint.events, sprint.state, sprint.notice) == ((), state, None)
    [message] = sprint.messages
    assert message.text.split("\n\n") == [hint, engine.repeat(state, language=code).messages[0].text]
    assert message.buttons == engine.repeat(state, language=code).messages[0].buttons
    exactly = engine.resume(state, TextInput("x" * 200), language=code)
    assert exactly.events[0].payload == {"text": "x" * 200}


def test_a_blank_text_is_no_answer(engine: Engine) -> None:
    state = at_words(engine)
    sprint = engine.resume(state, TextInput(" \n "), language="sv")
    assert (sprint.events, sprint.state) == ((), state)
    assert sprint.messages[0].text.startswith("Tryck på en av knapparna.\n\n")


def test_a_notice_entry_says_and_ends(engine: Engine) -> None:
    sprint = engine.start("reminder", language="sv", variables=reminder_variables("sv", engine.catalogs), at="cancelled", ref=REF)
    assert [m.text for m in sprint.messages] == ["Inställt: Möte med din handläggare\n📅 tisdag 24 november kl. 10:30\nDu behöver inte komma."]
    assert sprint.state == IDLE and not sprint.keep_state  # keep_state is for the caller to set (bot/reminders/messages.py)


@pytest.mark.parametrize("code", list(LANGUAGES))
def test_the_reminder_is_a_short_first_message(engine: Engine, code: str) -> None:
    # A realistic long title and place: still within the 200 characters of a first message.
    appointment = Appointment(id=12345, version=3, participant_id=1, starts_at=APPOINTMENT.starts_at,
                              place="Jobb- och kunskapstorget, Nygatan 19", title="Uppföljning av din planering")
    values = reminder_messages.variables(appointment, engine.catalogs.texts(code), TZ)
    for at in ("ask", "moved", "cancelled"):
        sprint = engine.start("reminder", language=code, variables=values, at=at, ref=reminder_messages.reference(appointment))
        for message in sprint.messages:
            assert len(message.text) <= 200, (code, at, len(message.text), message.text)
            assert message.text.splitlines()[0] and len(message.text.splitlines()[0]) <= 60


# --- several choices and a row of buttons (the check-in's places and faces) ---------------------


def at_places(engine: Engine, catalogs: Catalogs, code: str = "sv") -> State:
    variables = checkin_messages.variables(CHECKIN_WEEK, catalogs.texts(code))
    sprint = engine.start("checkin", language=code, variables=variables, ref=CHECKIN_REF)
    return engine.resume(sprint.state, Press(f"s:checkin:practice:a_lot:{CHECKIN_REF}"), language=code).state


def press_place(engine: Engine, state: State, option: str) -> Sprint:
    return engine.resume(restarted(state), Press(f"s:checkin:places:{option}:{CHECKIN_REF}"), language="sv")


def test_a_toggle_redraws_the_question_in_place_and_records_nothing(engine: Engine, catalogs: Catalogs) -> None:
    sprint = press_place(engine, at_places(engine, catalogs), "home")
    assert sprint.events == () and sprint.messages == () and sprint.chosen is None
    assert sprint.update is not None
    labels = [row[0].label for row in sprint.update.buttons]
    assert labels == ["SFI", "Språkcafé", "På jobbet eller praktiken", "✅ Hemma", "Med vänner", "Klar"]
    assert sprint.state.top.data["places"] == ["home"]  # plain data: a restart keeps the ticks


def test_done_records_one_event_with_the_places_in_the_buttons_order(engine: Engine, catalogs: Catalogs) -> None:
    state = at_places(engine, catalogs)
    for option in ("friends", "sfi", "work", "work", "home"):  # work ticked, then unticked
        state = press_place(engine, state, option).state
    sprint = press_place(engine, state, "done")
    assert [(e.type, e.payload) for e in sprint.events] == [("checkin_places", {"places": ["sfi", "home", "friends"]})]
    assert sprint.chosen == "SFI, Hemma, Med vänner"
    assert sprint.state.step == "confidence"


def test_done_with_nothing_chosen_pops_up_a_hint_and_changes_nothing(engine: Engine, catalogs: Catalogs) -> None:
    state = at_places(engine, catalogs, "so")
    sprint = engine.resume(state, Press(f"s:checkin:places:done:{CHECKIN_REF}"), language="so")
    assert sprint.events == () and sprint.messages == () and sprint.update is None
    assert sprint.notice == catalogs.texts("so").gettext("Välj minst ett svar, tryck sedan på Klar.")
    assert sprint.state == state


@pytest.mark.parametrize("given", [MediaInput("sticker"), TextInput("x" * 2000), TextInput("hemma")])
def test_a_sticker_or_text_on_the_places_asks_again_with_the_ticks_kept(engine: Engine, catalogs: Catalogs, given: Input) -> None:
    state = press_place(engine, at_places(engine, catalogs), "sfi").state
    sprint = engine.resume(state, given, language="sv")
    assert sprint.events == () and sprint.state == state
    [message] = sprint.messages
    assert message.text.endswith("Var övade du? Välj en eller flera, tryck sedan på Klar.") and "\n\n" in message.text  # a hint above
    assert message.buttons[0][0].label == "✅ SFI"


def test_the_faces_are_one_row_and_each_records_its_level(engine: Engine, catalogs: Catalogs) -> None:
    state = press_place(engine, press_place(engine, at_places(engine, catalogs), "sfi").state, "done").state
    sprint = engine.repeat(state, language="sv")
    [row] = sprint.messages[0].buttons
    assert [b.label for b in row] == ["😟", "🙁", "😐", "🙂", "😄"]
    done = engine.resume(state, Press(f"s:checkin:confidence:f2:{CHECKIN_REF}"), language="sv")
    assert [(e.type, e.payload) for e in done.events] == [("checkin_confidence", {"answer": "f2", "level": 2}), ("flow_completed", {"flow": "checkin"})]
    assert done.state == IDLE


def test_the_longest_checkin_button_fits_in_callback_data(engine: Engine, catalogs: Catalogs) -> None:
    sprint = engine.start("checkin", language="ti", variables=checkin_messages.variables(CHECKIN_WEEK, catalogs.texts("ti")), ref=CHECKIN_REF)
    longest = max((b.data for row in sprint.messages[0].buttons for b in row), key=len)
    assert longest == "s:checkin:practice:not_this_week:2027W03" and len(longest.encode()) <= MAX_CALLBACK_BYTES
