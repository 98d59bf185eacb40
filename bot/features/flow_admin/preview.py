"""`stegvis flows preview`: every way through a flow as a transcript in one language, with example values.

The flow is walked by the real engine (``flows.engine``) with the real catalogs, taking every
answer at every question: each button, a several step's first choice and then Done, a typed
text, the language being previewed at a language picker. A step met a third time on one way
stops that way (a flow may go round on purpose). A step with a timeout is also left unanswered
once («no answer after 24h»); after a timeout the way goes on with the first answer to each
question only, so a reminder shows once rather than doubling the ways. ``show_isolates`` writes the invisible
right-to-left isolation marks as [FSI] … [PDI], so a translator can see where a value sits.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flows.definition import DONE, Flow
from flows.engine import Engine, Press, Sprint, State, TextInput
from locales import Catalogs
from locales.format import FSI, PDI

MAX_PATHS = 64
# Example values for the placeholders the shipped flows use; any other shows as <name>.
EXAMPLES = {
    "name": "Amina",
    "retention_months": "12",
    "time": "14:00",
    "day": "tisdag 3 mars",
    "title": "Möte med Karin Lund",
    "place": "Arbetsmarknadsenheten, Storgatan 1",
    "activity": "Språkcafé",
    "phrase": "Hur mår du?",
    "meaning": "How are you?",
}
TYPED = "Jag är sjuk idag."
START = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)  # the preview's clock: only the time between questions counts
MARKS = {FSI: "[FSI]", PDI: "[PDI]", "\u2066": "[LRI]", "\u2067": "[RLI]"}


def transcripts(flow: Flow, language: str, *, show_isolates: bool = False, catalogs: Catalogs | None = None) -> list[list[str]]:
    engine = Engine({flow.id: flow}, catalogs or Catalogs())
    variables = {name: EXAMPLES.get(name, f"<{name}>") for name in flow.variables}
    paths: list[list[str]] = []

    def shown(text: str) -> str:
        if show_isolates:
            for mark, visible in MARKS.items():
                text = text.replace(mark, visible)
        return text

    def told(sprint: Sprint) -> list[str]:
        lines = []
        if sprint.chosen:
            lines.append(f"  participant: {shown(sprint.chosen)}")
        for message in (*((sprint.update,) if sprint.update else ()), *sprint.messages):
            lines.append("  bot: " + shown(message.text).replace("\n", "\n       "))
            for row in message.buttons:
                lines.append("       " + "  ".join(f"[{shown(button.label)}]" for button in row))
        if sprint.notice:
            lines.append(f"  (pop-up) {shown(sprint.notice)}")
        return lines

    def walk(sprint: Sprint, lines: list[str], visits: dict[str, int], lang: str | None, sampled: bool = False) -> None:
        if len(paths) >= MAX_PATHS:
            return
        lines = [*lines, *told(sprint)]
        for event in sprint.events:
            if any(step.timeout is not None and step.timeout.event == event.type for step in flow.steps.values()):
                lines.append(f"  (recorded: {event.type})")
        state = sprint.state
        top = state.top
        if top is None:
            paths.append([*lines, "  (the end)"])
            return
        if visits.get(top.step, 0) >= 2:
            paths.append([*lines, f"  (goes round to {top.step} again; this way stops here)"])
            return
        visits = {**visits, top.step: visits.get(top.step, 0) + 1}
        step = flow.steps[top.step]
        answers = _answers(flow, step, sprint, language)
        for given, label in answers[:1] if sampled else answers:
            after = engine.resume(state, given, language=lang, variables=variables, now=START)
            extra = [f"  participant types: {TYPED}"] if isinstance(given, TextInput) else []
            if label == "several":  # Done after one choice: the tick redraw, then the answer
                after = engine.resume(after.state, Press(_data(flow, step.id, DONE, top.ref)), language=lang, variables=variables, now=START)
            walk(after, [*lines, *extra], visits, after.language, sampled)
        due = engine.due_at(state)
        if due is not None and step.timeout is not None:
            after = engine.time_out(state, due, language=lang, variables=variables)
            walk(after, [*lines, f"  (no answer after {step.timeout.text})"], visits, after.language, True)

    first = engine.start(flow.id, language=language, variables=variables, now=START)
    walk(first, [f"{flow.id} in {language}:"], {}, first.language)
    for number, path in enumerate(paths, 1):
        path[0] = f"— way {number} of {len(paths)}: {path[0]}"
    return paths


def _data(flow: Flow, step: str, option: str, ref: str | None) -> str:
    data = f"s:{flow.id}:{step}:{option}"
    return f"{data}:{ref}" if ref else data


def _answers(flow: Flow, step: Any, sprint: Sprint, language: str) -> list[tuple[Any, str]]:
    ref = sprint.state.top.ref if sprint.state.top else None
    if step.language_picker:
        return [(Press(_data(flow, step.id, language, ref)), "language")]
    if step.several is not None:
        return [(Press(_data(flow, step.id, step.buttons[0].id, ref)), "several")]
    answers: list[tuple[Any, str]] = [(Press(_data(flow, step.id, b.id, ref)), "button") for b in step.buttons]
    if step.text_input is not None:
        answers.append((TextInput(TYPED), "text"))
    return answers


__all__ = ["State", "transcripts"]
