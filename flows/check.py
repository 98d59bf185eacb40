"""`stegvis flows check`: the hard errors that keep a flow from going live, then the softer inspection.

``flows.definition`` refuses a file that cannot be read as a flow. The checks here need more than
the file: the translations (a message over Telegram's 4,096 characters in some language once its
placeholders are filled with the longest values) and the event types Stegvis knows. A flow with
any of these errors is never published. The inspection that follows reports, per step, what an
administrator should look at but that does not stop a flow: a step nobody reaches, a step from
which the conversation can never finish, texts not yet translated (shown in Swedish until they
are) or not yet reviewed, a first message that is long for a first message, a button label that
is long for a phone's width, a reminder (a timeout's next) that never times out itself. A
timeout's way counts like any other for reaching a step and for finishing (its event ends the
run). Languages are the ones Stegvis offers (``locales.languages``), so a new language is
inspected without a change here.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.catalog import Catalog

from flows.definition import Flow, FlowError, Step, parse_flow
from flows import notice
from flows.formats import FORMAT
from locales import Catalogs
from locales.catalogs import CATALOG_DIR, catalog_path
from locales.check import UNREVIEWED, load_catalog
from locales.languages import LANGUAGES, SOURCE_LANGUAGE

MAX_MESSAGE = 4096  # Telegram's limit for one message, after the placeholders are filled
# What a placeholder is filled with when a message's longest form is measured: more than any
# value Stegvis puts in (a name, a place, a time, the phrase of the week).
LONGEST_VALUE = 200
FIRST_MESSAGE = 200  # a first message longer than this is read by few
LABEL = 20  # a button label longer than this wraps or is cut on a phone
# Events the engine itself records, whatever the features handle.
ENGINE_EVENTS = frozenset({"language_chosen", "flow_completed"})


@dataclass(frozen=True)
class Note:
    """One softer issue: where, and what to look at."""

    file: str
    line: int
    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.where}: {self.problem}"


@dataclass
class Report:
    """What `check_flow` found: the flow (None if it has errors), its errors, and the inspection's notes."""

    file: str
    flow: Flow | None
    errors: list[FlowError] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def lines(self) -> list[str]:
        return [f"error: {error}" for error in self.errors] + [f"note: {note}" for note in self.notes]

    def as_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "flow": self.flow.id if self.flow else None,
            "ok": self.ok,
            "errors": [str(error) for error in self.errors],
            "notes": [str(note) for note in self.notes],
        }


class Translations:
    """The catalogs as the translators see them: each text's translation and whether it is reviewed."""

    def __init__(self, directory: Path = CATALOG_DIR, languages: Collection[str] | None = None):
        codes = [code for code in (languages or LANGUAGES) if code != SOURCE_LANGUAGE]
        self.catalogs: dict[str, Catalog | None] = {
            code: load_catalog(code, directory) if catalog_path(code, directory).exists() else None for code in codes
        }
        self._compiled: Catalogs | None = None

    @property
    def compiled(self) -> Catalogs:
        """The catalogs as the bot uses them (to fill a text the way it is sent), compiled once."""
        if self._compiled is None:
            self._compiled = Catalogs()
        return self._compiled

    def translation(self, code: str, msgid: str) -> tuple[str | None, bool]:
        """(the translation or None, reviewed) of `msgid` in `code`."""
        catalog = self.catalogs.get(code)
        message = catalog.get(msgid) if catalog is not None else None
        if message is None or not message.string or message.fuzzy:
            return None, False
        string = message.string if isinstance(message.string, str) else message.string[0]
        return string, UNREVIEWED not in message.flags


def check_flow(
    source: bytes | str,
    *,
    file: str,
    expected_id: str | None = None,
    translations: Translations | None = None,
    known_events: Collection[str] | None = None,
    shipped: Flow | None = None,
) -> Report:
    """Every hard error (the first the file has, or all the ones that need the catalogs), then the inspection.

    With `shipped` (the flow as Stegvis ships it), the file must also fit the code that starts it:
    the code fills in the shipped flow's variables and starts it at its start and entries.
    """
    try:
        flow = parse_flow(source, file=file, expected_id=expected_id)
    except FlowError as error:
        return Report(file, None, [error])
    translations = translations or Translations()
    errors = [*_unknown_events(flow, known_events), *_too_long(flow, translations), *(_fits_the_code(flow, shipped) if shipped else []), *notice.check(flow, notice.load_versions())]
    report = Report(file, None if errors else flow, errors)
    report.notes = inspect(flow, translations)
    return report


def _unknown_events(flow: Flow, known: Collection[str] | None) -> list[FlowError]:
    if known is None:
        return []
    allowed = set(known) | ENGINE_EVENTS
    found = []
    for step in flow.steps.values():
        recorded = [(b.event, b.line) for b in step.buttons if step.several is None]
        if step.several is not None:
            recorded.append((step.several.event, step.several.line))
        if step.text_input is not None:
            recorded.append((step.text_input.event, step.text_input.line))
        where = {event_line: f"steps.{step.id}" for event_line in recorded}
        if step.timeout is not None and step.timeout.event is not None:
            recorded.append((step.timeout.event, step.timeout.line))
            where.setdefault((step.timeout.event, step.timeout.line), f"steps.{step.id}.timeout.event")
        for event, line in dict.fromkeys(recorded):
            if event not in allowed:
                close = difflib.get_close_matches(event, allowed, n=1)
                guess = f" (did you mean {close[0]!r}?)" if close else ""
                found.append(
                    FlowError(
                        flow.file, line, where[(event, line)],
                        f"unknown event type {event!r}{guess}; a flow records the events Stegvis's features know and the shipped flows record (docs/flows.md)",
                    )
                )
    return found


def _fits_the_code(flow: Flow, shipped: Flow) -> list[FlowError]:
    found = []
    extra = sorted(flow.variables - shipped.variables)
    if extra:
        fills = ", ".join(sorted(shipped.variables)) or "none"
        found.append(FlowError(flow.file, None, "variables", f"Stegvis fills in only {fills} for the flow {flow.id}; {{{extra[0]}}} would have no value"))
    for entry in shipped.entries:
        if entry not in flow.entries:
            found.append(FlowError(flow.file, None, "entries", f"Stegvis starts the flow {flow.id} at the step {entry!r} too: keep that step and list it under entries"))
    return found


def _too_long(flow: Flow, translations: Translations) -> list[FlowError]:
    found = []
    longest = {name: "W" * LONGEST_VALUE for name in flow.variables}
    languages = [SOURCE_LANGUAGE, *translations.catalogs]
    catalogs = translations.compiled
    for step in flow.steps.values():
        if not step.say:
            continue
        for code in languages:
            try:
                filled = catalogs.texts(code).gettext(step.say, **longest)
            except (KeyError, ValueError):
                continue  # a broken translation is the catalog check's (locales.check) to report
            if len(filled) > MAX_MESSAGE:
                found.append(
                    FlowError(
                        flow.file, step.say_line or step.line, f"steps.{step.id}.say",
                        f"is {len(filled)} characters in {code} with every placeholder {LONGEST_VALUE} characters long; Telegram sends at most {MAX_MESSAGE}",
                    )
                )
                break
    return found


def inspect(flow: Flow, translations: Translations) -> list[Note]:
    notes: list[Note] = []

    def note(line: int, where: str, problem: str) -> None:
        notes.append(Note(flow.file, line, where, problem))

    if flow.format < FORMAT:
        note(1, "format", f"written in format {flow.format}; it is read as format {FORMAT} (see docs/flows.md: the format's versions)")
    reachable = _reachable(flow)
    finishing = _can_finish(flow)
    starts = (flow.start, *flow.entries)
    for step in flow.steps.values():
        where = f"steps.{step.id}"
        if step.id not in reachable:
            note(step.line, where, "unreachable: no way from the start (or an entry) leads here")
        elif step.id not in finishing:
            note(step.line, where, "dead end: from here the conversation can never finish (every way leads back to a question)")
        timeout = step.timeout
        if timeout is not None and timeout.next is not None and flow.steps[timeout.next].timeout is None:
            note(
                timeout.line, f"{where}.timeout",
                f"the reminder {timeout.next!r} has no timeout of its own: for someone who never answers, the conversation stays open (end it with timeout: {{after: ..., event: ...}})",
            )
        if step.id in starts and step.say and len(step.say) > FIRST_MESSAGE:
            note(step.say_line or step.line, f"{where}.say", f"the first message is {len(step.say)} characters; a first message over {FIRST_MESSAGE} is read by few")
        for line, msgid, kind in _texts(step):
            if kind == "label" and len(msgid) > LABEL:
                note(line, where, f"the label {msgid!r} is {len(msgid)} characters in sv; over {LABEL} it wraps on a phone")
            for code in translations.catalogs:
                text, reviewed = translations.translation(code, msgid)
                shown = _short(msgid)
                if text is None:
                    note(line, where, f"{code}: {shown} has no translation yet: it is shown in Swedish (run python -m locales.update, then translate)")
                    continue
                if not reviewed:
                    note(line, where, f"{code}: the translation of {shown} is not reviewed yet")
                if kind == "label" and len(text) > LABEL:
                    note(line, where, f"the label {shown} is {len(text)} characters in {code}; over {LABEL} it wraps on a phone")
    return notes


def _texts(step: Step) -> list[tuple[int, str, str]]:
    found = []
    if step.say:
        found.append((step.say_line or step.line, step.say, "say"))
    found += [(b.line, b.label, "label") for b in step.buttons]
    if step.several is not None:
        found.append((step.several.line, step.several.done, "label"))
    return found


def _reachable(flow: Flow) -> set[str]:
    seen: set[str] = set()
    queue = [flow.start, *flow.entries]
    while queue:
        name = queue.pop()
        if name not in seen:
            seen.add(name)
            queue.extend(flow.steps[name].targets)
    return seen


def _finishes_here(step: Step) -> bool:
    """Whether some answer of `step` (or the step itself) ends the flow."""
    if step.end or (step.timeout is not None and step.timeout.event is not None):
        return True  # a timeout with an event ends the run too
    if step.language_picker:
        return step.next is None
    if step.several is not None:
        return step.several.next is None
    if step.text_input is not None and step.text_input.next is None:
        return True
    if step.buttons:
        return any(b.next is None for b in step.buttons)
    return step.text_input is None and step.next is None and not step.branches


def _can_finish(flow: Flow) -> set[str]:
    finishing = {name for name, step in flow.steps.items() if _finishes_here(step)}
    changed = True
    while changed:
        changed = False
        for name, step in flow.steps.items():
            if name not in finishing and any(target in finishing for target in step.targets):
                finishing.add(name)
                changed = True
    return finishing


def _short(msgid: str) -> str:
    first = msgid.splitlines()[0]
    return repr(first if len(first) <= 40 else first[:37] + "...")


def known_event_types(handled: Collection[str], flows: Mapping[str, Flow]) -> frozenset[str]:
    """The event types a published flow may record: those a feature handles, and those the shipped flows record."""
    found = set(handled)
    for flow in flows.values():
        for step in flow.steps.values():
            found.update(b.event for b in step.buttons if step.several is None)
            if step.several is not None:
                found.add(step.several.event)
            if step.text_input is not None:
                found.add(step.text_input.event)
            if step.timeout is not None and step.timeout.event is not None:
                found.add(step.timeout.event)
    return frozenset(found)

