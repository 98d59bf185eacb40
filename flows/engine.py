"""The dialogue engine: (flows, conversation state, input) → new state, messages to send, events.

Nothing here talks to Telegram or the database: the caller (``bot/``) sends the messages and
stores the state and the events. State is plain data (``State.to_dict``), saved after every
step, so a restart in the middle of a conversation loses nothing.

**Runs stack.** A conversation is a stack of *runs*, one per flow being walked; the top one asks
the question the participant sees. A flow started over an open question (a command such as
``/language`` while another question waits, a press on an older message while another question is
open) is pushed on top; when it ends, the run below is open again: asked again (``then="repeat"``, the default: its
message is far up the chat, perhaps in another language) or left as it is on screen
(``then="quiet"``). A press on a button of a run lower in the stack answers that run, and the runs
above it are dropped. Each run records the flow's id and version it started on.

**Versions.** ``Engine.flows`` holds the live version of each flow: a conversation started now
gets it. A run keeps walking the version it started on (``Engine.versions`` keeps every version
it was given, ``Engine.publish`` adds a new live one), so a flow published in the middle of a
conversation changes nothing for the participant until that conversation is over.

**Refs.** A run may be about one thing outside the conversation (a thing in the calendar, say): the
caller starts it with a ``ref`` (short ASCII, e.g. ``7v2``). The ref is kept in the run, carried in
every button's callback data (``s:<flow>:<step>:<option>:<ref>``) and on every event, so a press
is tied to that one thing: a press whose ref is not the waiting question's is a press on an old
message. Such a run also keeps the values its texts were filled with, so a question asked again
(/help, a typed text) reads the same even when the caller no longer knows which thing it was about.

**Timeouts.** Each run records when its question was asked (``Run.asked_at``): the caller gives
``now``, or the one who stores the state fills it in (``State.asked``); a question asked again
after /help keeps its time. ``Engine.due_at`` says when the visible question's ``timeout`` is up,
and ``Engine.time_out`` is what happens then: the nudge step's messages (it waits in its turn),
or the run ends recording the timeout's event. While a reminder (a timeout's next) is open, a
press on the question it reminds of, still on screen, answers the reminder when it has the same
button. Nothing here looks at a clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from flows.definition import DONE, MAX_REF, Flow, Step
from locales import LANGUAGES, N_, Catalogs, Texts
from locales.languages import picker_order

DATA_PREFIX = "s"  # callback data: "s:<flow>:<step>:<option>[:<ref>]", ids only, never text
LONG_TEXT = 1000
# Telegram's 64 bytes of callback data hold "s:" and three 16-character ids with their colons
# (53 bytes), and a ref of up to MAX_REF (11) characters after the last colon.
REF = re.compile(rf"[A-Za-z0-9_.-]{{1,{MAX_REF}}}")
REF_KEY, VARIABLES_KEY = "ref", "variables"  # in Run.data (flows.definition.STATE_KEYS)
TEXT_ANSWER = "text"  # stored in the state for a typed answer; the text itself only in its event
REPEAT, QUIET = "repeat", "quiet"
CHECKED = "✅ "  # in front of a chosen option of a several step
# A press on Done before anything is chosen (a pop-up; nothing changes).
CHOOSE_ONE = N_("Välj minst ett svar, tryck sedan på Klar.")
# The notice for a press that changes nothing.
ANSWERED = N_("Den frågan är redan besvarad.")  # a button on an older message
BROKEN = N_("Den knappen fungerar inte.")  # a button we never made (forged, or of a removed flow)
Then = Literal["repeat", "quiet"]


@dataclass(frozen=True)
class Button:
    label: str
    data: str


@dataclass(frozen=True)
class OutgoingMessage:
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    # The text is Telegram HTML, every value in it already escaped (a staff digest with bold
    # headings); flow texts are plain and never are.
    html: bool = False


@dataclass(frozen=True)
class FlowEvent:
    type: str
    payload: dict[str, Any]
    flow: str | None
    step: str | None
    ref: str | None = None  # the thing the run is about (see the module docstring)


@dataclass(frozen=True)
class Run:
    """One flow being walked: the step it waits on, its answers so far, and what it is about."""

    flow: str
    version: int
    step: str
    data: dict[str, Any] = field(default_factory=dict)
    # When this run ends, the run below it is asked again (repeat) or left on screen (quiet).
    then: Then = REPEAT
    # When the step it waits on was asked (an aware datetime); None until the caller or the one who
    # stores the state says (State.asked).
    asked_at: datetime | None = None

    @property
    def ref(self) -> str | None:
        ref = self.data.get(REF_KEY)
        return ref if isinstance(ref, str) else None

    def to_dict(self) -> dict[str, Any]:
        raw: dict[str, Any] = {"flow": self.flow, "version": self.version, "step": self.step, "data": dict(self.data)}
        if self.then != REPEAT:
            raw["then"] = self.then
        if self.asked_at is not None:
            raw["asked_at"] = self.asked_at.isoformat()
        return raw

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Run:
        then = raw.get("then", REPEAT)
        version = raw.get("version")
        return cls(
            str(raw["flow"]), version if type(version) is int else 0, str(raw["step"]), dict(raw.get("data") or {}),
            QUIET if then == QUIET else REPEAT, _moment(raw.get("asked_at")),
        )


def _moment(raw: Any) -> datetime | None:
    """An asked_at as stored (ISO text with its offset); anything else is read as not known."""
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


@dataclass(frozen=True)
class State:
    """A conversation: the stack of open runs, bottom first; the last one asks the visible question."""

    runs: tuple[Run, ...] = ()

    @property
    def top(self) -> Run | None:
        return self.runs[-1] if self.runs else None

    @property
    def waiting(self) -> bool:
        return bool(self.runs)

    @property
    def flow(self) -> str | None:
        return self.runs[-1].flow if self.runs else None

    @property
    def step(self) -> str | None:
        return self.runs[-1].step if self.runs else None

    @property
    def ref(self) -> str | None:
        return self.runs[-1].ref if self.runs else None

    def asked(self, now: datetime) -> State:
        """The state with `now` as the time each run's question was asked, where no one said yet:
        the one who stores a state calls this, so every stored question has its time."""
        if all(run.asked_at is not None for run in self.runs):
            return self
        return State(tuple(run if run.asked_at is not None else replace(run, asked_at=now) for run in self.runs))

    def without(self, drop: Callable[[Run], bool]) -> State:
        """The state without the runs `drop` says go (their questions are over); nothing is asked again."""
        kept = tuple(run for run in self.runs if not drop(run))
        return self if len(kept) == len(self.runs) else State(kept)

    def to_dict(self) -> dict[str, Any]:
        return {"runs": [run.to_dict() for run in self.runs]}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> State:
        runs = (raw or {}).get("runs") or []
        return cls(tuple(Run.from_dict(run) for run in runs if isinstance(run, Mapping) and run.get("flow") and run.get("step")))


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
class ButtonAddress:
    """What a button's callback data names: the flow, step and option, and the ref of its run."""

    flow: str
    step: str
    option: str
    ref: str | None

    @classmethod
    def parse(cls, data: str) -> ButtonAddress | None:
        parts = data.split(":")
        if len(parts) not in (4, 5) or parts[0] != DATA_PREFIX:
            return None
        return cls(parts[1], parts[2], parts[3], parts[4] if len(parts) == 5 else None)


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
    # The pressed message drawn again in place (a choice of a several step toggled): the caller
    # edits that message instead of sending a new one.
    update: OutgoingMessage | None = None


class FlowLoop(RuntimeError):
    """A flow went round its steps without asking anything (only a flow that skipped the checks can)."""


class Engine:
    def __init__(self, flows: Mapping[str, Flow], catalogs: Catalogs):
        self.flows = dict(flows)
        self.catalogs = catalogs
        # Every version a run may still be on, by (flow id, version): the live ones and the older
        # ones published while this process ran (or loaded at its start).
        self.versions: dict[tuple[str, int], Flow] = {(flow.id, flow.version): flow for flow in self.flows.values()}

    def publish(self, flow: Flow, *, live: bool = True) -> None:
        """Keep `flow` for the runs on its version; with `live`, new conversations get it from now on."""
        self.versions[(flow.id, flow.version)] = flow
        if live:
            self.flows[flow.id] = flow

    def has_step(self, flow_id: str, step_id: str) -> bool:
        """Whether some version of the flow has the step (a button on a message of an older version still names one)."""
        return any(flow.id == flow_id and step_id in flow.steps for flow in self.versions.values())

    def flow_of(self, run: Run) -> Flow | None:
        """The version of its flow a run walks: the one it started on, or the live one if that is unknown."""
        return self.versions.get((run.flow, run.version)) or self.flows.get(run.flow)

    def start(
        self,
        flow_id: str,
        *,
        language: str | None,
        variables: Mapping[str, Any] = {},
        at: str | None = None,
        ref: str | None = None,
        over: State = IDLE,
        now: datetime | None = None,
    ) -> Sprint:
        """Start a flow at its start (or at the step `at`); `ref` ties the run to one thing.

        With `over`, the new run goes on top of those runs (a command that interrupts an open
        question); without, it replaces whatever was open.
        """
        flow = self.flows[flow_id]
        if ref is not None and not REF.fullmatch(ref):
            raise ValueError(f"ref {ref!r} must be 1-{MAX_REF} characters of A-Z a-z 0-9 _ . - (it goes into Telegram's 64 bytes of callback data)")
        sprint = _Sprint(self, language, over.runs, variables, now)
        walk = _Walk(sprint, flow, variables, {REF_KEY: ref} if ref is not None else {}, REPEAT)
        walk.enter(at or flow.start)
        return sprint.result()

    def resume(self, state: State, given: Input, *, language: str | None, variables: Mapping[str, Any] = {}, now: datetime | None = None) -> Sprint:
        """The participant's press, text or media, given to the run it is for."""
        state = self._known(state)
        if isinstance(given, Press):
            return self._press(state, given.data, language, variables, now)
        sprint = _Sprint(self, language, state.runs[:-1], variables, now)
        walk = self._walk_top(sprint, state, variables)
        if walk is None:
            sprint.idle_input(given)
        elif isinstance(given, TextInput):
            walk.text(walk.step, given.text)
        else:
            walk.media(walk.step, given.kind)
        return sprint.result()

    def answer_detached(
        self, state: State, data: str, *, language: str | None, variables: Mapping[str, Any] = {}, same_thing: Callable[[Run], bool] = lambda run: False
    ) -> Sprint:
        """A press on a button of an older message about a thing that is still open.

        The caller has checked that the ref's thing still takes answers (still booked, at that
        time): the question is rebuilt from the button itself and answered, on top
        of whatever is open, which stays open underneath (quietly: its message is still on
        screen). Runs about the same thing (`same_thing`) are dropped: this press supersedes them.
        """
        state = self._known(state)
        address = ButtonAddress.parse(data)
        top = state.top
        if address is None or address.ref is None or (top is not None and (top.flow, top.step, top.ref) == (address.flow, address.step, address.ref)):
            return self.resume(state, Press(data), language=language, variables=variables)
        flow = self.flows.get(address.flow)
        if flow is None or address.step not in flow.steps:
            return self.resume(state, Press(data), language=language, variables=variables)
        below = state.without(same_thing)
        run = Run(flow.id, flow.version, address.step, {REF_KEY: address.ref}, QUIET)
        return self.resume(State((*below.runs, run)), Press(data), language=language, variables=variables)

    def repeat(self, state: State, *, language: str | None, variables: Mapping[str, Any] = {}) -> Sprint:
        """The question the participant is waiting on, sent again (after /start or /help)."""
        state = self._known(state)
        sprint = _Sprint(self, language, state.runs[:-1], variables)
        walk = self._walk_top(sprint, state, variables)
        if walk is not None:
            walk.ask(walk.step)
        return sprint.result()

    def due_at(self, state: State) -> datetime | None:
        """When the question the participant sees times out: its step's timeout after it was asked (None: never)."""
        found = self._timeout_of(self._known(state))
        if found is None:
            return None
        run, step = found
        assert step.timeout is not None and run.asked_at is not None
        return run.asked_at + step.timeout.after

    def time_out(
        self, state: State, now: datetime, *, language: str | None, variables: Mapping[str, Any] = {}, asked_when_stored: bool = False
    ) -> Sprint:
        """No answer in time: the timeout's next step is entered (a nudge, asked at `now`), or the run
        ends recording the timeout's event. Before it is due (or with no timeout) nothing changes.

        With `asked_when_stored`, the nudge's asking time is left to the one who stores the state
        (``State.asked``): the outbox stores it once the nudge has gone out, which may be later than `now`.
        """
        state = self._known(state)
        due = self.due_at(state)
        sprint = _Sprint(self, language, state.runs[:-1], variables, None if asked_when_stored else now)
        if due is None or due > now:
            sprint.top = state.top
            return sprint.result()
        walk = self._walk_top(sprint, state, variables)
        assert walk is not None and walk.step.timeout is not None
        timeout = walk.step.timeout
        if timeout.next is not None:
            walk.enter(timeout.next)
        else:
            assert timeout.event is not None
            walk.emit(timeout.event, {"flow": walk.flow.id, "after": timeout.text}, walk.step.id)
            sprint.finished(walk.then)
        return sprint.result()

    # ---------------------------------------------------------------------------------------

    def _timeout_of(self, state: State) -> tuple[Run, Step] | None:
        top = state.top
        if top is None or top.asked_at is None:
            return None
        flow = self.flow_of(top)
        step = flow.steps.get(top.step) if flow is not None else None
        if step is None or step.timeout is None:
            return None
        return top, step

    def _known(self, state: State) -> State:
        # A flow or step renamed or removed by an edit: that run is over, as if answered.
        def gone(run: Run) -> bool:
            flow = self.flow_of(run)
            return flow is None or run.step not in flow.steps

        return state.without(gone)

    def _walk_top(self, sprint: _Sprint, state: State, variables: Mapping[str, Any]) -> _Walk | None:
        top = state.top
        if top is None:
            return None
        flow = self.flow_of(top)
        assert flow is not None  # _known dropped the runs of flows that are gone
        walk = _Walk(sprint, flow, variables, top.data, top.then, version=flow.version)
        walk.step = flow.steps[top.step]
        walk.waiting = True
        walk.asked_at = top.asked_at
        return walk

    def _press(self, state: State, data: str, language: str | None, variables: Mapping[str, Any], now: datetime | None = None) -> Sprint:
        address = ButtonAddress.parse(data)
        # The run the button belongs to: the top one, or one further down (its question is
        # answered, and what was asked over it is dropped).
        for depth in range(len(state.runs) - 1, -1, -1):
            run = state.runs[depth]
            if address is not None and (run.flow, run.step, run.ref) == (address.flow, address.step, address.ref):
                state = State(state.runs[: depth + 1])
                break
        sprint = _Sprint(self, language, state.runs[:-1], variables, now)
        walk = self._walk_top(sprint, state, variables)
        if walk is None:
            sprint.refuse(None, self._stale_or_forged(address))
        else:
            walk.press(address)
        return sprint.result()

    def _stale_or_forged(self, address: ButtonAddress | None) -> str:
        known = address is not None and self.has_step(address.flow, address.step)
        # A button on an older message: that question was answered or has moved on.
        return ANSWERED if known else BROKEN


class _Sprint:
    """One input's answer in the making: the messages and events of every run it walks."""

    def __init__(self, engine: Engine, language: str | None, below: tuple[Run, ...], variables: Mapping[str, Any], now: datetime | None = None):
        self.engine, self.language = engine, language
        self.now = now  # when the questions of this sprint are asked (None: the one who stores it says)
        self.below = below  # the runs under the one being walked
        self.variables = variables  # the caller's values, for runs without a ref of their own
        self.top: Run | None = None  # the walked run, while it waits
        self.messages: list[OutgoingMessage] = []
        self.events: list[FlowEvent] = []
        self.chosen: str | None = None
        self.notice: str | None = None
        self.update: OutgoingMessage | None = None

    @property
    def texts(self) -> Texts:
        return self.engine.catalogs.texts(self.language)

    def say(self, text: str, buttons: tuple[tuple[Button, ...], ...] = ()) -> None:
        self.messages.append(OutgoingMessage(text, buttons))

    def result(self) -> Sprint:
        runs = (*self.below, self.top) if self.top is not None else self.below
        return Sprint(State(runs), self.language, tuple(self.messages), tuple(self.events), self.chosen, self.notice, update=self.update)

    def finished(self, then: Then) -> None:
        """The walked run has ended: the run below is open again."""
        self.top = None
        if not self.below:
            return
        below = self.below[-1]
        self.below = self.below[:-1]
        if then == QUIET:
            self.top = below  # its message is still on screen, as it was
            return
        # The caller's values are about the run that ended; a run with a ref has its own.
        walk = self.engine._walk_top(self, State((below,)), {} if below.ref is not None else self.variables)
        assert walk is not None
        walk.asked_at = self.now  # asked again as a new message: its timeout counts from now
        walk.ask(walk.step)

    def refuse(self, walk: _Walk | None, notice: str) -> None:
        # A stale or forged button changes nothing; show where the conversation really is.
        self.notice = self.texts.gettext(notice)
        if walk is not None:
            walk.ask(walk.step)

    def idle_input(self, given: Input) -> None:
        if isinstance(given, TextInput):
            if len(given.text) > LONG_TEXT:
                return self.say(self.texts.gettext("Ditt meddelande är för långt för mig. Skriv /help för hjälp, eller kontakta din handläggare."))
            return self.say(self.texts.gettext("Jag kan inte läsa fria meddelanden. Skriv /help för hjälp, eller kontakta din handläggare."))
        if isinstance(given, MediaInput):
            self.say(_media_hint(self.texts, given.kind))


def _media_hint(texts: Texts, kind: str) -> str:
    if kind == "voice":
        return texts.gettext("Jag kan inte lyssna på röstmeddelanden. Ring din handläggare om du vill prata.")
    return texts.gettext("Jag kan inte öppna bilder, filer eller klistermärken.")


class _Walk:
    """One run walked in a sprint: enters steps, asks, takes the input."""

    def __init__(self, sprint: _Sprint, flow: Flow, variables: Mapping[str, Any], data: Mapping[str, Any], then: Then, *, version: int | None = None):
        self.sprint, self.flow, self.then = sprint, flow, then
        self.version = flow.version if version is None else version
        self.data = dict(data)
        self.step: Step = flow.steps[flow.start]
        self.waiting = False
        self.asked_at: datetime | None = None  # when self.step was asked
        ref = self.data.get(REF_KEY)
        self.ref = ref if isinstance(ref, str) else None
        kept = self.data.get(VARIABLES_KEY) if self.ref is not None else None
        self.variables = {**kept, **variables} if isinstance(kept, dict) else dict(variables)
        # before anything is sent or saved, not at the first text that needs them
        missing = flow.variables - self.variables.keys()
        if missing:
            raise ValueError(f"flow {flow.id!r} needs the variables {sorted(missing)}: pass them as variables={{...}}")
        if self.ref is not None:  # the latest values, for a question asked again later
            self.data[VARIABLES_KEY] = {name: self.variables[name] for name in sorted(flow.variables)}

    @property
    def texts(self) -> Texts:
        return self.sprint.texts

    def run(self) -> Run:
        return Run(self.flow.id, self.version, self.step.id, dict(self.data), self.then, self.asked_at)

    def emit(self, type: str, payload: dict[str, Any], step: str | None) -> None:
        self.sprint.events.append(FlowEvent(type, payload, self.flow.id, step, self.ref))

    # --- walking the flow -------------------------------------------------------------------

    def enter(self, step_id: str) -> None:
        path: list[str] = []
        while True:
            if step_id in path:
                # The checks refuse such a flow; one built in code, or a check this misses, must
                # not send messages for ever.
                loop = " -> ".join([*path[path.index(step_id):], step_id])
                raise FlowLoop(f"flow {self.flow.id!r} version {self.version} went round the steps {loop} without asking anything; fix it and run: stegvis flows check")
            path.append(step_id)
            step = self.flow.steps[step_id]
            self.step = step
            if step.waits:
                self.waiting = True
                self.asked_at = self.sprint.now  # a new question: its timeout counts from now
                self.sprint.top = self.run()
                self.ask(step)
                return
            self.sprint.say(self.fill(step.say))
            following = None if step.end else step.route(self.data)
            if following is None:
                self.emit("flow_completed", {"flow": self.flow.id}, step.id)
                self.sprint.finished(self.then)
                return
            step_id = following

    def ask(self, step: Step, hint: str | None = None) -> None:
        catalogs = self.sprint.engine.catalogs
        if step.language_picker:
            order = picker_order(self.sprint.language)
            prompt = "\n".join(catalogs.texts(language.code).gettext("Välj språk.") for language in order)
            rows = tuple((Button(language.native_name, self.button_data(step, language.code)),) for language in order)
        else:
            prompt = self.fill(step.say)
            rows = self.rows(step)
        self.sprint.top = self.run()
        self.sprint.say(f"{hint}\n\n{prompt}" if hint else prompt, rows)

    def rows(self, step: Step) -> tuple[tuple[Button, ...], ...]:
        """The step's buttons as Telegram rows: one per row, or all in one (``layout: row``);
        a several step's chosen options checked, and its Done button last."""
        chosen = self.chosen(step)
        buttons = [
            Button((CHECKED if b.id in chosen else "") + self.texts.gettext(b.label), self.button_data(step, b.id)) for b in step.buttons
        ]
        if step.several is not None:
            buttons.append(Button(self.texts.gettext(step.several.done), self.button_data(step, DONE)))
        if step.layout == "row":
            return (tuple(buttons),)
        return tuple((button,) for button in buttons)

    def chosen(self, step: Step) -> list[str]:
        """The options of a several step chosen so far, in the order of its buttons (plain data in the run)."""
        if step.several is None:
            return []
        kept = self.data.get(step.id)
        picked = set(kept) if isinstance(kept, list) else set()
        return [b.id for b in step.buttons if b.id in picked]

    def fill(self, msgid: str | None) -> str:
        assert msgid is not None
        values = {name: self.variables[name] for name in self.flow.variables}  # checked in __init__
        return self.texts.gettext(msgid, **values)

    def button_data(self, step: Step, option: str) -> str:
        data = f"{DATA_PREFIX}:{self.flow.id}:{step.id}:{option}"
        return f"{data}:{self.ref}" if self.ref is not None else data

    # --- inputs -----------------------------------------------------------------------------

    def press(self, address: ButtonAddress | None) -> None:
        step = self.step
        if address is None:
            return self.sprint.refuse(self, BROKEN)
        if self.reminds_of(address):
            address = ButtonAddress(address.flow, step.id, address.option, address.ref)
        if (address.flow, address.step) != (self.flow.id, step.id):
            return self.sprint.refuse(self, self.sprint.engine._stale_or_forged(address))
        if address.ref != self.ref:
            if address.ref is not None and self.ref is not None:  # the same question about another thing: an older message
                return self.sprint.refuse(self, ANSWERED)
            return self.sprint.refuse(self, BROKEN)  # we never made that button
        option = address.option
        if step.language_picker:
            if option not in LANGUAGES:
                return self.sprint.refuse(self, BROKEN)
            self.sprint.language = option
            self.sprint.chosen = LANGUAGES[option].native_name
            self.emit("language_chosen", {"language": option}, step.id)
            return self.answered(step, option, step.next)
        if step.several is not None:
            return self.toggle_or_done(step, option)
        button = next((b for b in step.buttons if b.id == option), None)
        if button is None:
            return self.sprint.refuse(self, BROKEN)
        self.sprint.chosen = self.texts.gettext(button.label)
        self.emit(button.event, {"answer": button.id, **button.payload}, step.id)
        self.answered(step, button.id, button.next)

    def reminds_of(self, address: ButtonAddress) -> bool:
        """Whether the press is on the question the open step reminds of (its timeout led here) and
        this step has the same answer: the question still on screen is answered by it, not stale."""
        step = self.step
        asked = self.flow.steps.get(address.step) if address.flow == self.flow.id else None
        return (
            asked is not None and asked.id != step.id and asked.timeout is not None and asked.timeout.next == step.id
            and address.ref == self.ref and step.several is None and any(b.id == address.option for b in step.buttons)
        )

    def toggle_or_done(self, step: Step, option: str) -> None:
        several = step.several
        assert several is not None
        chosen = self.chosen(step)
        if option == DONE:
            if not chosen:
                self.sprint.top = self.run()
                self.sprint.notice = self.texts.gettext(CHOOSE_ONE)  # the message stays as it is
                return
            labels = {b.id: self.texts.gettext(b.label) for b in step.buttons}
            self.sprint.chosen = ", ".join(labels[c] for c in chosen)
            self.emit(several.event, {several.key: chosen}, step.id)
            return self.answered(step, chosen, several.next)
        if not any(b.id == option for b in step.buttons):
            return self.sprint.refuse(self, BROKEN)
        picked = [c for c in chosen if c != option] if option in chosen else [*chosen, option]
        self.data[step.id] = [b.id for b in step.buttons if b.id in picked]
        self.sprint.top = self.run()
        # Drawn again in place, with the option checked or not; nothing is recorded until Done.
        self.sprint.update = OutgoingMessage(self.fill(step.say), self.rows(step))

    def answered(self, step: Step, option: str | list[str], next_step: str | None) -> None:
        self.data[step.id] = option
        self.sprint.top = None
        if next_step:
            self.enter(next_step)
        else:
            self.emit("flow_completed", {"flow": self.flow.id}, step.id)
            self.sprint.finished(self.then)

    def text(self, step: Step, text: str) -> None:
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

    def media(self, step: Step, kind: str) -> None:
        self.ask(step, hint=_media_hint(self.texts, kind))
