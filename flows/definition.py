"""Reading a flow file: YAML in, a checked ``Flow`` out, or a ``FlowError`` naming file, line and field.

A flow file is data that administrators edit, so every mistake must point at the place to fix.
The checks here are the hard tier: a flow that fails them is never loaded.

Format 2 (``flows/formats.py`` has the versions and migrates a ``spec: 1`` file as it reads it)::

    format: 2
    flow: welcome                 # id: a-z, 0-9, _ (at most 16), same as the file name
    start: question               # the first step
    entries: [moved]              # optional: other steps a caller may start at (a notice)
    variables: [name]             # the {placeholders} texts may use, filled in by the caller
    steps:
      question:
        say: "Swedish source text, translated through the gettext catalogs"
        event: feeling            # the event every answer of this step records (or per button)
        buttons:                  # 1-6 buttons; the participant's answer
          - {id: fine, label: "Det går bra", next: thanks, payload: {answer: fine}}
          - {id: hard, label: "Det är svårt", next: help, event: needs_help}
      thanks:
        say: "..."
        end: true                 # or next: <step> to go on without waiting
      note:
        say: "Skriv några ord, eller tryck på Hoppa över."
        text_input: {event: note, next: thanks, max_length: 200}   # wait for a short text
        buttons:
          - {id: skip, label: Hoppa över, next: thanks, event: note_skipped}
      route:
        say: "..."
        next:                     # a condition on an earlier answer: the first that holds
          - {if: {question: hard}, go: help}
          - {go: thanks}          # the last one has no if
      places:
        say: "Var? Välj en eller flera, tryck sedan på Klar."
        several: {event: places, key: places, next: thanks, done: Klar}  # toggle, then Done
        buttons:                  # the choices: ids and labels only
          - {id: sfi, label: SFI}
          - {id: home, label: Hemma}
      faces:
        say: "Hur känns det?"
        layout: row               # all buttons side by side (short labels: faces, numbers)
        buttons: [...]
      waiting:
        say: "..."
        buttons: [...]
        timeout: {after: 24h, next: nudge}        # no answer after 24 hours: go to nudge
      nudge:
        say: "En liten påminnelse: ..."
        buttons: [...]
        timeout: {after: 24h, event: unanswered}  # still none: end the run, recording that event

A step is exactly one of: ``buttons`` (wait for a press), ``several`` with ``buttons`` (each press
toggles a choice, shown checked; a *Done* button ends the step with one event carrying the list
of chosen ids under ``key``, in the order of the buttons), ``text_input`` (wait for a typed text of
at most ``max_length`` characters, and with ``buttons`` for a press as well), ``language_picker:
true`` (one button per language, each in its own script; with ``next`` to go on after the choice),
``next`` (say and go on), ``end: true`` (say and finish). A chain of ``next`` steps must not loop
without waiting. ``layout: row`` puts a step's buttons in one row (``column``, one per row, is
the default). Step names ``ref`` and ``variables`` are taken: the conversation
state keeps other things under them. A step's ``next`` may be a list of conditions on earlier
answers (``if: {step: answer}`` or ``if: {step: [answer, answer]}``), the last without ``if``; a
condition names a step that asks a choice and is answered before, and one of its answers.

A step that waits may have a ``timeout``: ``after`` a duration (``90m``, ``24h``, ``2d``; at most
``30d``) without an answer, the conversation goes to the step ``next`` (a nudge: its messages are
sent, and it waits for an answer in its turn), or the run ends recording ``event`` (such as
``course_unanswered``). Timeouts must not go round for ever (a nudge whose timeout leads back to
the question): a chain of timeouts ends with an ``event``, or at a step without one.

Every button's callback data (``s:<flow>:<step>:<button>:<ref>``) must fit Telegram's 64 bytes.
The checks that need the catalogs (a message's length in every language) and the softer
inspection are in ``flows/check.py``.
"""

from __future__ import annotations

import difflib
import re
import string
from dataclasses import dataclass, field
from datetime import timedelta
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from flows.formats import FORMAT, OLDEST, upgrade
from locales.catalogs import placeholders
from locales.languages import LANGUAGES

SPEC_VERSION = 1  # the first format's `spec: 1`; newer files say `format: 2` (flows/formats.py)
MAX_BUTTONS = 6  # more than six choices is too many for a small screen and a new reader
MAX_TEXT = 1000  # Telegram allows 4096; participants deserve far shorter
MAX_LABEL = 40
MAX_FILE_BYTES = 256 * 1024
MAX_ROW = 6  # buttons side by side; Telegram shows up to 8, a phone's width far fewer readable ones
MAX_ROW_LABEL = 12  # a label in a row of buttons shares the width with the others
DONE = "done"  # the option of a several step's Done button: no choice may be called so
LAYOUTS = ("column", "row")
MAX_TEXT_INPUT = 1000  # the longest typed answer a text_input may ask for (the engine's LONG_TEXT)
ID = re.compile(r"^[a-z][a-z0-9_]{0,15}$")  # short ids keep callback data under 64 bytes
# Steps and buttons may have longer names when the flow's id is short: what counts is that the
# whole callback data fits (MAX_CALLBACK).
LONG_ID = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
MAX_CALLBACK = 64  # bytes of callback data Telegram keeps with a button
MAX_REF = 11  # the longest ref a run may carry at the end of its callback data (flows.engine)
EVENT = re.compile(r"^[a-z][a-z0-9_]{0,39}$")  # event types are stored, never sent: they may be longer
PAYLOAD_VALUE = (str, int, float, bool)
# A timeout's `after`: a whole number and a unit. Minutes for tests and short pilots; a month of
# silence is no longer an answer being late, so longer is refused.
DURATION = re.compile(r"^([1-9][0-9]{0,4})(m|h|d)$")
DURATION_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
MAX_TIMEOUT = timedelta(days=30)
# Keys of a conversation's state data besides the answers stored under each step's name.
STATE_KEYS = frozenset({"ref", "variables"})


class FlowError(ValueError):
    """A flow file that cannot be loaded; the message is ``file:line: field: problem``."""

    def __init__(self, file: str, line: int | None, where: str, problem: str):
        self.file, self.line, self.where, self.problem = file, line, where, problem
        location = f"{file}:{line}" if line else file
        super().__init__(f"{location}: {where}: {problem}" if where else f"{location}: {problem}")


@dataclass(frozen=True)
class Button:
    id: str
    label: str
    next: str | None
    event: str
    payload: dict[str, Any]
    line: int


@dataclass(frozen=True)
class TextEntry:
    """A step's typed answer: recorded as ``event`` with the text, then on to ``next``."""

    event: str
    next: str | None
    max_length: int
    line: int


@dataclass(frozen=True)
class Several:
    """A step of several choices: presses toggle; Done records ``event`` with ``{key: [ids]}``, then ``next``."""

    event: str
    key: str
    next: str | None
    done: str  # the Done button's label (a msgid)
    line: int


@dataclass(frozen=True)
class Timeout:
    """No answer `after` this long: go to the step `next` (a nudge), or end the run recording `event`."""

    after: timedelta
    text: str  # as written in the file (24h), for diagrams and messages
    next: str | None
    event: str | None
    line: int


@dataclass(frozen=True)
class Step:
    id: str
    say: str | None
    buttons: tuple[Button, ...] = ()
    language_picker: bool = False
    next: str | None = None
    end: bool = False
    line: int = 0  # the line of the step's name
    say_line: int = 0  # the line of its say text, for extraction
    text_input: TextEntry | None = None
    several: Several | None = None
    layout: str = "column"  # "row": every button side by side
    event: str | None = None  # the event its answers record unless a button names its own
    branches: tuple[Branch, ...] = ()  # a next that depends on earlier answers (then next is None)
    timeout: Timeout | None = None  # what happens when a waiting step gets no answer in time

    @property
    def waits(self) -> bool:
        return bool(self.buttons) or self.language_picker or self.text_input is not None

    def route(self, answers: Mapping[str, Any]) -> str | None:
        """The step after this one (a step that says and goes on): its next, or the first branch that holds."""
        for branch in self.branches:
            if branch.holds(answers):
                return branch.go
        return self.next

    @property
    def targets(self) -> list[str]:
        """Every step this one can lead to, in the order of the file."""
        found = [b.next for b in self.buttons if b.next]
        found += [b.go for b in self.branches]
        for target in (self.next, self.several.next if self.several else None, self.text_input.next if self.text_input else None):
            if target:
                found.append(target)
        if self.timeout is not None and self.timeout.next:
            found.append(self.timeout.next)
        return list(dict.fromkeys(found))

    @property
    def answered_targets(self) -> list[str]:
        """The steps this one leads to once answered (a timeout's next is reached without an answer)."""
        found = [b.next for b in self.buttons if b.next]
        found += [b.go for b in self.branches]
        for target in (self.next, self.several.next if self.several else None, self.text_input.next if self.text_input else None):
            if target:
                found.append(target)
        return list(dict.fromkeys(found))

    @property
    def answers(self) -> tuple[str, ...]:
        """The answers a condition may name: its buttons' ids, or the language codes of a picker."""
        if self.language_picker:
            return tuple(LANGUAGES)
        typed = ("text",) if self.text_input is not None else ()  # TEXT_ANSWER: they typed something
        return (*(b.id for b in self.buttons), *typed)


@dataclass(frozen=True)
class Branch:
    """One condition of a step's next: go to `go` when the answer to `step` is one of `answers` (no step: always)."""

    step: str | None
    answers: frozenset[str]
    go: str
    line: int

    def holds(self, answers: Mapping[str, Any]) -> bool:
        if self.step is None:
            return True
        given = answers.get(self.step)
        if isinstance(given, list):  # a several step: any of the chosen
            return any(choice in self.answers for choice in given)
        return given in self.answers


@dataclass(frozen=True)
class Flow:
    id: str
    start: str
    steps: dict[str, Step]
    variables: frozenset[str] = field(default_factory=frozenset)
    file: str = "<flow>"
    entries: tuple[str, ...] = ()  # steps besides start that a caller may start at
    # Which version of the flow this is; every run records the version it started on. A file on
    # disk is version 1; `stegvis flows publish` numbers the published ones from 2.
    version: int = 1
    format: int = FORMAT  # the format the file was written in (older ones are migrated as read)

    def texts(self) -> list[tuple[int, str, str]]:
        """(line, msgid, where) for every translatable text, for extraction and completeness checks."""
        found = []
        for step in self.steps.values():
            if step.say:
                found.append((step.say_line or step.line, step.say, f"{self.id}.{step.id}"))
            for button in step.buttons:
                found.append((button.line, button.label, f"{self.id}.{step.id}.{button.id}"))
            if step.several is not None:
                found.append((step.several.line, step.several.done, f"{self.id}.{step.id}.{DONE}"))
        return found


# --- reading YAML while keeping line numbers ---------------------------------------------------


class _Node:
    """A YAML value with the line it started on (and, for a mapping, each key's line)."""

    __slots__ = ("value", "line", "key_lines")

    def __init__(self, value: Any, line: int, key_lines: dict[str, int] | None = None):
        self.value, self.line, self.key_lines = value, line, key_lines or {}


_constructor = yaml.SafeLoader("")  # only the safe loader's scalar rules: ints, bools, null, text


_PLAIN_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")}


def _located(node: yaml.Node, file: str, where: str = "") -> _Node:
    line = node.start_mark.line + 1
    if node.tag not in _PLAIN_TAGS:
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        raise FlowError(file, line, where, f"the YAML tag {tag} is not allowed here (put a text that starts with ! in quotes)")
    if isinstance(node, yaml.MappingNode):
        mapping, key_lines = {}, {}
        for key_node, value_node in node.value:
            key = str(_constructor.construct_object(key_node, deep=True))
            key_line = key_node.start_mark.line + 1
            if key in mapping:  # YAML itself would silently keep only the last one
                raise FlowError(file, key_line, _join(where, key), f"appears twice (first on line {key_lines[key]}); remove or rename one")
            mapping[key] = _located(value_node, file, _join(where, key))
            key_lines[key] = key_line
        return _Node(mapping, line, key_lines)
    if isinstance(node, yaml.SequenceNode):
        return _Node([_located(item, file, f"{where}[{i}]") for i, item in enumerate(node.value)], line)
    return _Node(_constructor.construct_object(node, deep=True), line)


def load_flow(path: Path | str) -> Flow:
    path = Path(path)
    data = path.read_bytes()
    return parse_flow(data, file=str(path), expected_id=path.stem)


def parse_flow(source: bytes | str, *, file: str = "<flow>", expected_id: str | None = None) -> Flow:
    raw = source.encode() if isinstance(source, str) else source
    if len(raw) > MAX_FILE_BYTES:
        raise FlowError(file, None, "", f"file is larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        column = error.start - raw.rfind(b"\n", 0, error.start)  # counts bytes: right up to the first odd character
        raise FlowError(file, line, "", f"not UTF-8 text (column {column} is in another encoding); save the file as UTF-8") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        located = _located(root, file) if root is not None else None
    except yaml.MarkedYAMLError as error:
        raise FlowError(file, *_yaml_problem(error)) from None
    if located is None:
        raise FlowError(file, None, "", "the file is empty (nothing but comments or blank lines)")
    return _Checker(file).flow(located, expected_id)


def _yaml_problem(error: yaml.MarkedYAMLError) -> tuple[int | None, str, str]:
    """(line, where, problem) for a YAML syntax error, in words an administrator can act on."""
    mark = error.problem_mark or error.context_mark
    problem = error.problem or "unreadable"
    hint = ""
    if "end of stream" in problem and error.context_mark and "quoted" in (error.context or ""):
        mark, hint = error.context_mark, " (a quote that is opened here is never closed)"
    elif problem.startswith("mapping values are not allowed"):
        hint = " (a text that contains ': ' must be put in quotes; or the indentation is wrong)"
    elif "expected <block end>" in problem:
        hint = " (check the indentation; a text that starts with {, [ or a quote must be quoted as a whole)"
    elif "'\\t'" in problem:
        hint = " (indent with spaces, not tabs)"
    if error.context:
        problem = f"{error.context}, {problem}"
    return (mark.line + 1 if mark else None), "", f"not valid YAML: {problem}{hint}"


class _Checker:
    def __init__(self, file: str):
        self.file = file
        self.format = FORMAT

    def fail(self, node: _Node | None, where: str, problem: str) -> FlowError:
        return FlowError(self.file, node.line if node else None, where, problem)

    def mapping(self, node: _Node, where: str, allowed: set[str], required: set[str], line: int | None = None) -> dict[str, _Node]:
        if not isinstance(node.value, dict):
            if not where:
                raise self.fail(node, where, f"a flow file must be a mapping with the fields {', '.join(sorted(allowed))}")
            raise self.fail(node, where, f"must be a mapping of fields (such as {', '.join(sorted(allowed))})")
        fields = node.value
        for key in fields:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                guess = f"did you mean '{close[0]}'? " if close else ""
                raise FlowError(self.file, node.key_lines[key], _join(where, key), f"unknown field ({guess}allowed: {', '.join(sorted(allowed))})")
        for key in sorted(required - fields.keys()):
            raise FlowError(self.file, line or node.line, where, f"missing required field '{key}'")
        return fields

    def text(self, node: _Node, where: str, limit: int, variables: frozenset[str]) -> str:
        if isinstance(node.value, (list, dict)):
            raise self.fail(node, where, f"must be a text, not {_kind(node.value)} (a text that starts with {{ or [ must be put in quotes)")
        if node.value is not None and not isinstance(node.value, str):
            raise self.fail(node, where, f"must be a text, not {_kind(node.value)}")
        if not node.value or not node.value.strip():
            raise self.fail(node, where, "must be a non-empty text")
        value = node.value.strip()
        if len(value) > limit:
            raise self.fail(node, where, f"is {len(value)} characters; at most {limit}")
        problem = _brace_problem(value)
        if problem:
            raise self.fail(node, where, f"bad {{placeholder}}: {problem}; write a placeholder as {{name}} and a literal brace as {{{{ or }}}}")
        used = placeholders(value)
        unknown = used - variables
        if unknown:
            declared = ", ".join(sorted(variables)) or "none"
            raise self.fail(node, where, f"unknown placeholder {{{sorted(unknown)[0]}}} (declared variables: {declared})")
        return value

    def event(self, node: _Node, where: str) -> str:
        rule = "use a-z, 0-9 and _, starting with a letter, at most 40 characters"
        if not isinstance(node.value, str):
            raise self.fail(node, where, f"must be an event name ({rule}), not {_kind(node.value)}")
        if not EVENT.match(node.value):
            raise self.fail(node, where, f"{node.value!r} is not an event name: {rule}")
        return node.value

    def ident(self, node: _Node, where: str, long: bool = False) -> str:
        # Format 2 lets steps and buttons have names of up to 32 characters (the callback data check
        # keeps the whole under 64 bytes); format 1 had 16 for everything.
        most = 32 if long and self.format >= 2 else 16
        rule = f"use a-z, 0-9 and _, starting with a letter, at most {most} characters"
        if not isinstance(node.value, str):
            raise self.fail(node, where, f"must be an id ({rule}), not {_kind(node.value)}")
        if not (LONG_ID if most == 32 else ID).match(node.value):
            raise self.fail(node, where, f"{node.value!r} is not an id: {rule}")
        return node.value

    def version(self, root: _Node) -> int:
        """The format the file is written in: `format: 2`, or the first format's `spec: 1`."""
        fields = root.value
        if "format" in fields and "spec" in fields:
            raise FlowError(self.file, root.key_lines["spec"], "spec", "a file has format or spec, not both; keep format: 2")
        key = "format" if "format" in fields else "spec"
        if key not in fields:
            raise FlowError(self.file, root.line, "", f"missing required field 'format' (write format: {FORMAT} as the first line)")
        node = fields[key]
        known = range(OLDEST, FORMAT + 1) if key == "format" else (SPEC_VERSION,)
        if type(node.value) is not int or node.value not in known:  # `spec: true` is not 1
            raise self.fail(node, key, f"unsupported version {node.value!r}; this Stegvis reads spec {SPEC_VERSION} (the old format) or format {FORMAT}")
        return node.value

    def flow(self, root: _Node, expected_id: str | None) -> Flow:
        fields = {"format", "flow", "start", "entries", "variables", "steps"}
        if isinstance(root.value, dict):
            self.format = written = self.version(root)
            root = upgrade(root, written)
        top = self.mapping(root, "", fields, {"format", "flow", "start", "steps"})
        flow_id = self.ident(top["flow"], "flow")
        if expected_id is not None and flow_id != expected_id:
            raise self.fail(top["flow"], "flow", f"'{flow_id}' must match the file name '{expected_id}'")
        variables = frozenset()
        if "variables" in top:
            node = top["variables"]
            if not isinstance(node.value, list):
                raise self.fail(node, "variables", "must be a list of names")
            variables = frozenset(self.ident(item, f"variables[{i}]") for i, item in enumerate(node.value))
        steps_node = top["steps"]
        if not isinstance(steps_node.value, dict) or not steps_node.value:
            raise self.fail(steps_node, "steps", "must be a mapping with at least one step")
        self.names = list(steps_node.value)
        self.next_lines: dict[str, int] = {}
        steps = {}
        for key, node in steps_node.value.items():
            key_line = steps_node.key_lines[key]
            self.ident(_Node(key, key_line), f"steps.{key}", long=True)
            if key in STATE_KEYS:
                raise FlowError(self.file, key_line, f"steps.{key}", f"'{key}' is a reserved name (the conversation state keeps other data under it); choose another")
            steps[key] = self.step(key, node, variables, key_line)
        start = self.target(top["start"], "start")
        entries = self.entries(top["entries"], start) if "entries" in top else ()
        self.no_silent_loops(steps)
        self.timeouts_end(steps)
        self.conditions_can_hold(steps, start, entries)
        self.callback_data_fits(flow_id, steps)
        return Flow(flow_id, start, steps, variables, self.file, entries, format=written)

    def callback_data_fits(self, flow_id: str, steps: dict[str, Step]) -> None:
        for step in steps.values():
            options = [*(b.id for b in step.buttons), *((DONE,) if step.several else ()), *(tuple(LANGUAGES) if step.language_picker else ())]
            lines = [*(b.line for b in step.buttons), *((step.several.line,) if step.several else ()), *((step.line,) * len(LANGUAGES) if step.language_picker else ())]
            for option, line in zip(options, lines):
                data = f"s:{flow_id}:{step.id}:{option}:{'r' * MAX_REF}"
                size = len(data.encode())
                if size > MAX_CALLBACK:
                    raise FlowError(
                        self.file, line, f"steps.{step.id}",
                        f"the button {option!r} would carry {size} bytes of callback data (s:{flow_id}:{step.id}:{option} and a ref of up to {MAX_REF}); "
                        f"Telegram keeps at most {MAX_CALLBACK}: shorten the step name or the button id",
                    )

    def conditions_can_hold(self, steps: dict[str, Step], start: str, entries: tuple[str, ...]) -> None:
        # A condition on a step that is never answered before it, or on an answer that step
        # cannot give, would quietly never hold: the participant would always take the last way.
        before = _answered_before(steps, (start, *entries))
        for step in steps.values():
            for index, branch in enumerate(step.branches):
                if branch.step is None:
                    continue
                where = f"steps.{step.id}.next[{index}].if.{branch.step}"
                asked = steps.get(branch.step)
                if asked is None:
                    close = difflib.get_close_matches(branch.step, self.names, n=1)
                    known = f"did you mean '{close[0]}'?" if close else f"steps: {', '.join(self.names)}"
                    raise FlowError(self.file, branch.line, where, f"no step named {branch.step!r} ({known})")
                if not asked.answers:
                    raise FlowError(self.file, branch.line, where, f"the step {branch.step!r} asks nothing, so there is no answer to test")
                if branch.step not in before[step.id]:
                    raise FlowError(self.file, branch.line, where, f"the step {branch.step!r} is never answered before {step.id!r}, so this condition can never hold")
                wrong = sorted(branch.answers - set(asked.answers))
                if wrong:
                    raise FlowError(self.file, branch.line, where, f"{wrong[0]!r} is not an answer of the step {branch.step!r} (its answers: {', '.join(asked.answers)})")

    def route(self, node: _Node, where: str, step_id: str) -> tuple[Branch, ...]:
        """A next that is a list of conditions: ``- {if: {step: answer}, go: step}``, the last without if."""
        if not node.value:
            raise self.fail(node, where, "must be a step name or a list of conditions (- {if: {step: answer}, go: step}, the last one with go only)")
        branches = []
        for index, item in enumerate(node.value):
            here = f"{where}[{index}]"
            last = index == len(node.value) - 1
            fields = self.mapping(item, here, {"if", "go"}, {"go"})
            go = self.target(fields["go"], f"{here}.go")
            if "if" not in fields:
                if not last:
                    raise self.fail(item, here, "only the last condition may leave out if (it is the way taken when none of the others holds)")
                branches.append(Branch(None, frozenset(), go, item.line))
                continue
            if last:
                raise self.fail(item, here, "the last condition must have go only (no if): the way taken when none of the others holds")
            test = fields["if"]
            if not isinstance(test.value, dict) or len(test.value) != 1:
                raise self.fail(test, f"{here}.if", "must name one earlier step and its answer, e.g. if: {practice: a_lot}")
            (asked, answer), = test.value.items()
            values = answer.value if isinstance(answer.value, list) else [answer]
            answers = []
            for value in values:
                if not isinstance(value.value, str):
                    raise self.fail(value, f"{here}.if.{asked}", f"must be an answer's id or a list of them, not {_kind(value.value)}")
                answers.append(value.value)
            branches.append(Branch(asked, frozenset(answers), go, test.key_lines[asked]))
        return tuple(branches)

    def entries(self, node: _Node, start: str) -> tuple[str, ...]:
        if not isinstance(node.value, list) or not node.value:
            raise self.fail(node, "entries", "must be a list of step names (the steps a caller may start at besides start)")
        found: list[str] = []
        for index, item in enumerate(node.value):
            name = self.target(item, f"entries[{index}]")
            if name == start or name in found:
                raise self.fail(item, f"entries[{index}]", f"{name!r} is already {'the start' if name == start else 'listed'}")
            found.append(name)
        return tuple(found)

    def target(self, node: _Node, where: str) -> str:
        """A step name that must exist: start, or a step's or button's next."""
        name = self.ident(node, where, long=True)
        if name not in self.names:
            close = difflib.get_close_matches(name, self.names, n=1)
            known = f"did you mean '{close[0]}'?" if close else f"steps: {', '.join(self.names)}"
            raise self.fail(node, where, f"no step named {name!r} ({known})")
        return name

    def step(self, step_id: str, node: _Node, variables: frozenset[str], line: int) -> Step:
        where = f"steps.{step_id}"
        fields = self.mapping(node, where, {"say", "buttons", "several", "text_input", "language_picker", "layout", "next", "end", "event", "timeout"}, set(), line)
        kinds = [kind for kind in ("buttons", "several", "text_input", "language_picker", "next", "end") if kind in fields]
        if kinds == ["language_picker", "next"]:
            kinds = ["language_picker"]  # the picker waits, then goes on to next
        if kinds == ["buttons", "text_input"]:
            kinds = ["text_input"]  # waits for a typed text or a press
        if kinds == ["buttons", "several"]:
            kinds = ["several"]  # the buttons are its choices
        if kinds == ["several"] and "buttons" not in fields:
            raise self.fail(fields["several"], f"{where}.several", "needs buttons: the choices to pick from (ids and labels)")
        if len(kinds) != 1:
            problem = "needs exactly one of buttons, several, text_input, language_picker, next or end" + (f" (has {', '.join(kinds)})" if kinds else " (add end: true if the flow finishes here)")
            if "several" in kinds:
                problem += "; several goes with buttons only (its choices): give several its own next"
            elif "text_input" in kinds:
                problem += "; text_input may go with buttons only: give text_input its own next"
            elif "buttons" in kinds and "next" in kinds:
                problem += "; to go on after a press, give each button its own next"
            raise FlowError(self.file, line, where, problem)
        for flag in ("language_picker", "end"):
            if flag in fields and fields[flag].value is not True:
                raise self.fail(fields[flag], f"{where}.{flag}", "must be true (or be left out)")
        if "language_picker" in fields and "say" in fields:
            # The picker asks «Välj språk.» in every language; a say here would never be shown.
            raise self.fail(fields["say"], f"{where}.say", "a language_picker step has no say: it asks in every language itself")
        say = self.text(fields["say"], f"{where}.say", MAX_TEXT, variables) if "say" in fields else None
        if say is None and kinds[0] != "language_picker":
            raise FlowError(self.file, line, where, "missing required field 'say'")
        step_event = None
        if "event" in fields:
            if kinds[0] not in ("buttons", "text_input"):
                raise self.fail(fields["event"], f"{where}.event", "only a step with buttons or a text_input records an event of its own (a several step names it in several)")
            step_event = self.event(fields["event"], f"{where}.event")
        several = self.several(fields["several"], f"{where}.several", node.key_lines["several"]) if "several" in fields else None
        buttons: tuple[Button, ...] = ()
        if "buttons" in fields:
            buttons = self.buttons(fields["buttons"], f"{where}.buttons", variables, choices=several is not None, step_event=step_event)
        layout = self.layout(fields["layout"], f"{where}.layout", buttons, several) if "layout" in fields else "column"
        text_input = self.text_input(fields["text_input"], f"{where}.text_input", node.key_lines["text_input"], step_event) if "text_input" in fields else None
        next_step, branches = None, ()
        if "next" in fields:
            if isinstance(fields["next"].value, list) and "language_picker" not in fields:
                branches = self.route(fields["next"], f"{where}.next", step_id)
            else:
                next_step = self.target(fields["next"], f"{where}.next")
            self.next_lines[step_id] = fields["next"].line
        say_line = fields["say"].line if "say" in fields else line
        timeout = None
        if "timeout" in fields:
            if kinds[0] not in ("buttons", "several", "text_input", "language_picker"):
                raise self.fail(fields["timeout"], f"{where}.timeout", "only a step that waits for an answer has a timeout (this one goes on at once)")
            timeout = self.timeout(fields["timeout"], f"{where}.timeout", node.key_lines["timeout"], step_id)
        return Step(step_id, say, buttons, "language_picker" in fields, next_step, "end" in fields, line, say_line, text_input, several, layout, step_event, branches, timeout)

    def timeout(self, node: _Node, where: str, line: int, step_id: str) -> Timeout:
        fields = self.mapping(node, where, {"after", "next", "event"}, {"after"}, line)
        after = fields["after"]
        rule = "a whole number and m, h or d, such as 90m, 24h or 2d"
        text = after.value if isinstance(after.value, str) else None
        match = DURATION.match(text.strip()) if text is not None else None
        if match is None:
            if isinstance(after.value, (int, float)) and not isinstance(after.value, bool):
                shown = f"the number {after.value} (write the unit after it: {after.value}h)"
            else:
                shown = repr(after.value) if isinstance(after.value, str) else _kind(after.value)
            raise self.fail(after, f"{where}.after", f"must be a duration ({rule}), not {shown}")
        duration = int(match.group(1)) * DURATION_UNITS[match.group(2)]
        if duration > MAX_TIMEOUT:
            raise self.fail(after, f"{where}.after", f"{text.strip()} is longer than {MAX_TIMEOUT.days}d; a timeout waits at most {MAX_TIMEOUT.days} days")
        if ("next" in fields) == ("event" in fields):
            raise FlowError(self.file, line, where, "needs exactly one of next (the step to go to, such as a reminder) or event (the run ends recording it, such as unanswered)")
        next_step = self.target(fields["next"], f"{where}.next") if "next" in fields else None
        if next_step == step_id:
            raise self.fail(fields["next"], f"{where}.next", "leads back to the same step: it would be asked again for ever; go to a reminder step, or end with event")
        event = self.event(fields["event"], f"{where}.event") if "event" in fields else None
        return Timeout(duration, text.strip(), next_step, event, line)

    def several(self, node: _Node, where: str, line: int) -> Several:
        fields = self.mapping(node, where, {"event", "key", "next", "done"}, {"event", "done"}, line)
        event = self.event(fields["event"], f"{where}.event")
        key = self.ident(fields["key"], f"{where}.key") if "key" in fields else "chosen"
        if key == "answer":
            raise self.fail(fields["key"], f"{where}.key", "'answer' is the key of a single button's answer; choose another (e.g. places)")
        next_step = self.target(fields["next"], f"{where}.next") if "next" in fields else None
        done = self.text(fields["done"], f"{where}.done", MAX_LABEL, frozenset())
        return Several(event, key, next_step, done, fields["done"].line)

    def layout(self, node: _Node, where: str, buttons: tuple[Button, ...], several: Several | None) -> str:
        if node.value not in LAYOUTS:
            raise self.fail(node, where, f"must be one of {', '.join(LAYOUTS)}, not {node.value!r}")
        if not buttons:
            raise self.fail(node, where, "only a step with buttons has a layout")
        if node.value == "row":
            count = len(buttons) + (1 if several is not None else 0)
            if count > MAX_ROW:
                raise self.fail(node, where, f"a row holds at most {MAX_ROW} buttons; this step has {count}")
            long = next((b for b in buttons if len(b.label) > MAX_ROW_LABEL), None)
            if long is not None:
                raise FlowError(self.file, long.line, where, f"the label {long.label!r} is {len(long.label)} characters; a row of buttons takes labels of at most {MAX_ROW_LABEL} (or leave out layout: row)")
        return str(node.value)

    def text_input(self, node: _Node, where: str, line: int, step_event: str | None = None) -> TextEntry:
        fields = self.mapping(node, where, {"event", "next", "max_length"}, {"max_length"}, line)
        limit = fields["max_length"]
        if type(limit.value) is not int or not 1 <= limit.value <= MAX_TEXT_INPUT:  # `max_length: true` is not 1
            if isinstance(limit.value, str):
                shown = "a text (write the number without quotes)"
            else:
                shown = str(limit.value) if isinstance(limit.value, (int, float)) and not isinstance(limit.value, bool) else _kind(limit.value)
            raise self.fail(limit, f"{where}.max_length", f"must be a whole number of characters from 1 to {MAX_TEXT_INPUT}, not {shown}")
        event = self.event(fields["event"], f"{where}.event") if "event" in fields else step_event
        if event is None:
            raise FlowError(self.file, line, where, "records no event: give the step an event (what its answers record) or the text_input one")
        next_step = self.target(fields["next"], f"{where}.next") if "next" in fields else None
        return TextEntry(event, next_step, limit.value, line)

    def buttons(self, node: _Node, where: str, variables: frozenset[str], *, choices: bool = False, step_event: str | None = None) -> tuple[Button, ...]:
        if not isinstance(node.value, list) or not node.value:
            raise self.fail(node, where, "must be a list of at least one button")
        if choices and len(node.value) > MAX_BUTTONS - 1:
            raise self.fail(node, where, f"has {len(node.value)} choices; at most {MAX_BUTTONS - 1} (the Done button is the {MAX_BUTTONS}th)")
        if len(node.value) > MAX_BUTTONS:
            raise self.fail(node, where, f"has {len(node.value)} buttons; at most {MAX_BUTTONS}")
        buttons, seen = [], set()
        for index, item in enumerate(node.value):
            here = f"{where}[{index}]"
            fields = self.mapping(item, here, {"id", "label", "next", "event", "payload"}, {"id", "label"})
            button_id = self.ident(fields["id"], f"{here}.id", long=True)
            if choices:
                if button_id == DONE:
                    raise self.fail(fields["id"], f"{here}.id", f"'{DONE}' is the Done button of a several step; call the choice something else")
                extra = next((key for key in ("next", "event", "payload") if key in fields), None)
                if extra is not None:
                    raise FlowError(self.file, item.key_lines[extra], f"{here}.{extra}", "a choice of a several step has only an id and a label: the step's several says the event and the next step")
            if button_id in seen:
                raise self.fail(fields["id"], f"{here}.id", f"duplicate button id {button_id!r}")
            seen.add(button_id)
            label = self.text(fields["label"], f"{here}.label", MAX_LABEL, frozenset())
            next_step = self.target(fields["next"], f"{here}.next") if "next" in fields else None
            if "event" in fields:
                event = self.event(fields["event"], f"{here}.event")
            elif choices:
                event = "answered"  # never recorded: the several step's Done records its event
            elif step_event is None:
                raise self.fail(item, here, "records no event: give the step an event (what every answer here records) or this button its own")
            else:
                event = step_event
            payload = {}
            if "payload" in fields:
                payload_node = fields["payload"]
                if not isinstance(payload_node.value, dict):
                    raise self.fail(payload_node, f"{here}.payload", "must be a mapping")
                for key, value in payload_node.value.items():
                    if not isinstance(value.value, PAYLOAD_VALUE):
                        raise self.fail(value, f"{here}.payload.{key}", f"must be a text, number or true/false, not {_kind(value.value)}")
                    payload[key] = value.value
            buttons.append(Button(button_id, label, next_step, event, payload, fields["label"].line))
        return tuple(buttons)

    def timeouts_end(self, steps: dict[str, Step]) -> None:
        # A chain of timeouts that comes back to where it started (perhaps through steps that say
        # something and go on) would nudge someone who never answers for ever: it must end with an
        # event, or at a question without a timeout.
        def questions_after(name: str, seen: frozenset[str] = frozenset()) -> set[str]:
            """The waiting steps a timeout's next leads to without an answer (through steps that go on)."""
            step = steps[name]
            if step.waits:
                return {name}
            if name in seen:  # a silent loop: no_silent_loops has refused it already
                return set()
            found: set[str] = set()
            for target in step.targets:
                found |= questions_after(target, seen | {name})
            return found

        def walk(name: str, path: list[str]) -> None:
            step = steps[name]
            if step.timeout is None or step.timeout.next is None:
                return
            if name in path:
                loop = path[path.index(name):] + [name]
                raise FlowError(
                    self.file, steps[loop[0]].timeout.line, f"steps.{loop[0]}.timeout",  # type: ignore[union-attr]
                    f"the timeouts of {' -> '.join(loop)} go round for ever when nobody answers; "
                    "end the last one with event (such as unanswered) instead of next",
                )
            for question in sorted(questions_after(step.timeout.next)):
                walk(question, [*path, name])

        for first in steps:
            walk(first, [])

    def no_silent_loops(self, steps: dict[str, Step]) -> None:
        # A loop of steps that never wait would send messages for ever; the answers do not change
        # while nothing is asked, so a loop through a condition, once taken, never ends either.
        safe: set[str] = set()

        def walk(step: Step, path: list[str]) -> None:
            if step.waits or step.end or step.id in safe:
                return
            if step.id in path:
                loop = path[path.index(step.id):] + [step.id]
                raise FlowError(
                    self.file, self.next_lines[loop[0]], f"steps.{loop[0]}.next",
                    f"the steps {' -> '.join(loop)} go round for ever without waiting for an answer; "
                    "give one of them buttons or end: true",
                )
            for target in step.targets:
                walk(steps[target], [*path, step.id])
            safe.add(step.id)

        for first in steps.values():
            walk(first, [])


def _answered_before(steps: dict[str, Step], starts: tuple[str, ...]) -> dict[str, set[str]]:
    """For each step, the steps that may have been answered on some way to it (a fixed point)."""
    before: dict[str, set[str] | None] = {name: None for name in steps}
    queue = []
    for name in starts:
        before[name] = set()
        queue.append(name)
    while queue:
        name = queue.pop()
        step = steps[name]
        carried = (before[name] or set()) | ({name} if step.waits else set())
        unanswered = before[name] or set()  # a timeout's next is reached without this step's answer
        ways = [(target, carried) for target in step.answered_targets]
        if step.timeout is not None and step.timeout.next:
            ways.append((step.timeout.next, unanswered))
        for target, given in ways:
            known = before[target]
            if known is None or not given <= known:
                before[target] = given | (known or set())
                queue.append(target)
    return {name: found or set() for name, found in before.items()}


def _brace_problem(text: str) -> str | None:
    """What is wrong with the {placeholders} of a text, in words (Python's own help nobody here)."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as error:
        return "a '}' has no '{' before it" if str(error).startswith("Single '}'") else "a '{' is not closed by '}'"
    for _literal, name, spec, conversion in parsed:
        if name == "":
            return "{} has no name"  # passes placeholders(), then fails when the text is sent
        if name and (spec or conversion):
            return f"{{{name}}} must be written without ! or :"
    return None


def _kind(value: Any) -> str:
    """What YAML made of a value, for an error message."""
    if value is None:
        return "empty"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, bool):
        return "true/false (YAML reads yes, no, on and off as true/false: put it in quotes)"
    kind = "a number" if isinstance(value, (int, float)) else f"a {type(value).__name__}"
    return f"{kind} (put it in quotes to make it a text)"


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
