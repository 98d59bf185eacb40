"""The dialogue engine: (flow, conversation state, input) → new state, messages to send, events.

Nothing here talks to Telegram or the database: the caller (``bot/``) sends the messages and
stores the state and the events. State is plain data (``State.to_dict``), saved after every
step, so a restart in the middle of a conversation loses nothing.

A run may be about one thing outside the conversation, such as an appointment: the caller starts
it with a ``ref`` (short ASCII, e.g. ``7v2``). The ref is kept in the state, carried in every
button's callback data (``s:<flow>:<step>:<option>:<ref>``) and on every event, so a press is tied
to that one thing: a press whose ref is not the waiting question's is a press on an old message.
Such a run also keeps the values its texts were filled with, so a question asked again (/help, a
typed text) reads the same even when the caller no longer knows which thing it was about.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flows.definition import Flow, Step
from locales import LANGUAGES, Catalogs, Texts
from locales.languages import picker_order

DATA_PREFIX = "s"  # callback data: "s:<flow>:<step>:<option>[:<ref>]", ids only, never text
LONG_TEXT = 1000
# Telegram's 64 bytes of callback data hold "s:" and three 16-character ids with their colons
# (53 bytes), and a ref of up to 11 characters after the last colon.
MAX_REF = 11
REF = re.compile(rf"[A-Za-z0-9_.-]{{1,{MAX_REF}}}")
REF_KEY, VARIABLES_KEY = "ref", "variables"  # in State.data (flows.definition.STATE_KEYS)
TEXT_ANSWER = "text"  # stored in the state for a typed answer; the text itself only in its event


@dataclass(frozen=True)
class Button:
    label: str
    data: str


@dataclass(frozen=True)
class OutgoingMessage:
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()


@dataclass(frozen=True)
class FlowEvent:
    type: str
    payload: dict[str, Any]
    flow: str | None
    step: str | None
    ref: str | None = None  # the thing the run is about (see the module docstring)


@dataclass(frozen=True)
class State:
    flow: str | None = None
    step: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def waiting(self) -> bool:
        return self.flow is not None and self.step is not None

    @property
    def ref(self) -> str | None:
        ref = self.data.get(REF_KEY)
        return ref if isinstance(ref, str) else None

    def to_dict(self) -> dict[str, Any]:
        return {"flow": self.flow, "step": self.step, "data": dict(self.data)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> State:
        if not raw:
            return cls()
        return cls(raw.get("flow"), raw.get("step"), dict(raw.get("data") or {}))


IDLE = State()


# What a participant can send.
@dataclass(frozen=True)
class Press:
    data: str


@dataclass(frozen=True)
class TextInput:
    text: str


@dataclass(frozen=True)
class MediaInput:
    kind: str  # "voice", "photo", "sticker", "document", ...


Input = Press | TextInput | MediaInput


@dataclass(frozen=True)
class Sprint:
    """The engine's answer to one input."""

    state: State
    language: str | None  # the participant's language after this input
    messages: tuple[OutgoingMessage, ...] = ()
    events: tuple[FlowEvent, ...] = ()
    chosen: str | None = None  # label of the pressed button, shown under the answered question
    notice: str | None = None  # short reply to a button press that changed nothing
    # A message Stegvis sends on its own that asks nothing (a notice): the caller leaves the
    # conversation where it was instead of storing `state`.
    keep_state: bool = False


class Engine:
    def __init__(self, flows: Mapping[str, Flow], catalogs: Catalogs):
        self.flows = dict(flows)
        self.catalogs = catalogs

    def start(
        self, flow_id: str, *, language: str | None, variables: Mapping[str, Any] = {}, at: str | None = None, ref: str | None = None
    ) -> Sprint:
        """Start a flow at its start (or at the step `at`); `ref` ties the run to one thing."""
        flow = self.flows[flow_id]
        if ref is not None and not REF.fullmatch(ref):
            raise ValueError(f"ref {ref!r} must be 1-{MAX_REF} characters of A-Z a-z 0-9 _ . - (it goes into Telegram's 64 bytes of callback data)")
        run = _Run(self, flow, language, variables, State(flow.id, None, {REF_KEY: ref} if ref is not None else {}))
        run.enter(at or flow.start)
        return run.sprint()

    def resume(self, state: State, given: Input, *, language: str | None, variables: Mapping[str, Any] = {}) -> Sprint:
        flow = self.flows.get(state.flow) if state.flow else None
        step = flow.steps.get(state.step) if flow and state.step else None
        if flow is None or step is None:
            state, flow, step = IDLE, None, None  # a flow renamed or removed by an edit: start afresh
        run = _Run(self, flow, language, variables, state)
        if isinstance(given, Press):
            run.press(step, given.data)
        elif isinstance(given, TextInput):
            run.text(step, given.text)
        else:
            run.media(step, given.kind)
        return run.sprint()

    def repeat(self, state: State, *, language: str | None, variables: Mapping[str, Any] = {}) -> Sprint:
        """The question the participant is waiting on, sent again (after /start or /help)."""
        flow = self.flows.get(state.flow) if state.flow else None
        step = flow.steps.get(state.step) if flow and state.step else None
        run = _Run(self, flow, language, variables, state if step else IDLE)
        if step:
            run.ask(step)
        return run.sprint()


class _Run:
    """One sprint in progress: collects messages and events while walking the steps."""

    def __init__(self, engine: Engine, flow: Flow | None, language: str | None, variables: Mapping[str, Any], state: State):
        self.engine, self.flow, self.language = engine, flow, language
        self.ref = state.ref
        kept = state.data.get(VARIABLES_KEY) if self.ref is not None else None
        self.variables = {**kept, **variables} if isinstance(kept, dict) else dict(variables)
        if flow is not None:  # before anything is sent or saved, not at the first text that needs them
            missing = flow.variables - self.variables.keys()
            if missing:
                raise ValueError(f"flow {flow.id!r} needs the variables {sorted(missing)}: pass them as variables={{...}}")
            if self.ref is not None:  # the latest values, for a question asked again later
                values = {name: self.variables[name] for name in sorted(flow.variables)}
                state = State(state.flow, state.step, {**state.data, VARIABLES_KEY: values})
        self.state = state
        self.messages: list[OutgoingMessage] = []
        self.events: list[FlowEvent] = []
        self.chosen: str | None = None
        self.notice: str | None = None

    @property
    def texts(self) -> Texts:
        return self.engine.catalogs.texts(self.language)

    def sprint(self) -> Sprint:
        return Sprint(self.state, self.language, tuple(self.messages), tuple(self.events), self.chosen, self.notice)

    def emit(self, type: str, payload: dict[str, Any], step: str | None) -> None:
        self.events.append(FlowEvent(type, payload, self.flow.id if self.flow else None, step, self.ref))

    def say(self, text: str, buttons: tuple[tuple[Button, ...], ...] = ()) -> None:
        self.messages.append(OutgoingMessage(text, buttons))

    # --- walking the flow -------------------------------------------------------------------

    def enter(self, step_id: str) -> None:
        assert self.flow is not None
        data = dict(self.state.data)
        while True:
            step = self.flow.steps[step_id]
            if step.waits:
                self.state = State(self.flow.id, step.id, data)
                self.ask(step)
                return
            self.say(self.fill(step.say))
            if step.end or step.next is None:
                self.state = IDLE
                self.emit("flow_completed", {"flow": self.flow.id}, step.id)
                return
            step_id = step.next

    def ask(self, step: Step, hint: str | None = None) -> None:
        assert self.flow is not None
        if step.language_picker:
            order = picker_order(self.language)
            prompt = "\n".join(self.engine.catalogs.texts(language.code).gettext("Välj språk.") for language in order)
            rows = tuple((Button(language.native_name, self.data(step, language.code)),) for language in order)
        else:
            prompt = self.fill(step.say)
            rows = tuple((Button(self.texts.gettext(b.label), self.data(step, b.id)),) for b in step.buttons)
        self.say(f"{hint}\n\n{prompt}" if hint else prompt, rows)

    def fill(self, msgid: str | None) -> str:
        assert self.flow is not None and msgid is not None
        values = {name: self.variables[name] for name in self.flow.variables}  # checked in __init__
        return self.texts.gettext(msgid, **values)

    def data(self, step: Step, option: str) -> str:
        assert self.flow is not None
        data = f"{DATA_PREFIX}:{self.flow.id}:{step.id}:{option}"
        return f"{data}:{self.ref}" if self.ref is not None else data

    # --- inputs -----------------------------------------------------------------------------

    def press(self, step: Step | None, data: str) -> None:
        parts = data.split(":")
        if len(parts) not in (4, 5) or parts[0] != DATA_PREFIX:
            return self.refuse(step, self.texts.gettext("Den knappen fungerar inte."))
        _, flow_id, step_id, option = parts[:4]
        ref = parts[4] if len(parts) == 5 else None
        if step is None or self.flow is None or (flow_id, step_id) != (self.flow.id, step.id):
            known = flow_id in self.engine.flows and step_id in self.engine.flows[flow_id].steps
            if known:  # a button on an older message: that question was answered or has moved on
                return self.refuse(step, self.texts.gettext("Den frågan är redan besvarad."))
            return self.refuse(step, self.texts.gettext("Den knappen fungerar inte."))
        if ref != self.ref:
            if ref is not None and self.ref is not None:  # the same question about another thing: an older message
                return self.refuse(step, self.texts.gettext("Den frågan är redan besvarad."))
            return self.refuse(step, self.texts.gettext("Den knappen fungerar inte."))  # we never made that button
        if step.language_picker:
            if option not in LANGUAGES:
                return self.refuse(step, self.texts.gettext("Den knappen fungerar inte."))
            self.language = option
            self.chosen = LANGUAGES[option].native_name
            self.emit("language_chosen", {"language": option}, step.id)
            return self.answered(step, option, step.next)
        button = next((b for b in step.buttons if b.id == option), None)
        if button is None:
            return self.refuse(step, self.texts.gettext("Den knappen fungerar inte."))
        self.chosen = self.texts.gettext(button.label)
        self.emit(button.event, {"answer": button.id, **button.payload}, step.id)
        self.answered(step, button.id, button.next)

    def answered(self, step: Step, option: str, next_step: str | None) -> None:
        assert self.flow is not None
        self.state = State(self.flow.id, None, {**self.state.data, step.id: option})
        if next_step:
            self.enter(next_step)
        else:
            self.state = IDLE
            self.emit("flow_completed", {"flow": self.flow.id}, step.id)

    def refuse(self, step: Step | None, notice: str) -> None:
        # A stale or forged button changes nothing; show where the conversation really is.
        self.notice = notice
        if step is not None:
            self.ask(step)

    def text(self, step: Step | None, text: str) -> None:
        if step is None:
            if len(text) > LONG_TEXT:
                return self.say(self.texts.gettext("Ditt meddelande är för långt för mig. Skriv /help för hjälp, eller kontakta din handläggare."))
            return self.say(self.texts.gettext("Jag kan inte läsa fria meddelanden. Skriv /help för hjälp, eller kontakta din handläggare."))
        entry = step.text_input
        answer = text.strip()
        if entry is None or not answer:
            return self.ask(step, hint=self.texts.gettext("Tryck på en av knapparna."))
        if len(answer) > entry.max_length:
            # Nothing is recorded: the question again, so they can send a shorter text.
            limit = entry.max_length
            return self.ask(step, hint=self.texts.ngettext("Det är för långt. Skriv högst {n} tecken.", "Det är för långt. Skriv högst {n} tecken.", limit))
        # The text goes into the event only: the state keeps that there was one, never what it said.
        self.emit(entry.event, {"text": answer}, step.id)
        self.answered(step, TEXT_ANSWER, entry.next)

    def media(self, step: Step | None, kind: str) -> None:
        if kind == "voice":
            hint = self.texts.gettext("Jag kan inte lyssna på röstmeddelanden. Ring din handläggare om du vill prata.")
        else:
            hint = self.texts.gettext("Jag kan inte öppna bilder, filer eller klistermärken.")
        if step is None:
            return self.say(hint)
        self.ask(step, hint=hint)
