"""Every text a translator translates, in the order a participant meets them, with its length limit.

Flow by flow (the files in ``flows/definitions/``), step by step (as written), each step's
message then its buttons; then the texts written in the code and the phrases of the week, in the
order Babel extracts them. Each text appears once, where it is first used.

Length limits (characters, per language):

* a button label: at most 40, what the flow files allow the Swedish (``flows.definition.MAX_LABEL``;
  several of the Swedish labels are 21–25, so 20 would refuse the source itself); the note asks for
  20. A button in a row of buttons (``layout: row``): 12, as the flows declare (``MAX_ROW_LABEL``).
* a message: 1000, what the flows allow the Swedish (``MAX_TEXT``). Filled in with a name, a
  place and a time it stays far under Telegram's 4096 after formatting.
* a text in the code: 1000 too, unless a ``# TRANSLATORS: at most N characters`` comment says
  less; ``... in all languages together`` makes N the limit of the one message that carries the
  text in every language (a first message to someone without an invite: 200).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from flows.definition import MAX_LABEL, MAX_ROW_LABEL, MAX_TEXT, Flow
from flows.library import DEFINITIONS, load_flows
from locales.catalogs import placeholders
from locales.check import PROJECT_ROOT, _extracted

LABEL_AIM = 20  # what the note asks of a button label: a phone shows about that much on one line
CODE_LIMIT = MAX_TEXT
_DECLARED = re.compile(r"at most (\d+) characters( in all languages together)?", re.IGNORECASE)


@dataclass(frozen=True)
class TextToTranslate:
    msgid: str  # the Swedish text (the singular of a plural message)
    plural: str | None  # the Swedish plural, for a message that depends on a number {n}
    flow: str | None  # None: a text of the code
    step: str | None
    kind: str  # "message", "button", "row button", "done button" or "text" (in the code)
    limit: int
    together: bool  # the limit is of all languages' versions in one message
    note: str  # what the translator should know, in a line
    where: str  # file:line of its first use

    @property
    def key(self) -> str:
        return self.msgid

    def limit_text(self) -> str:
        return f"at most {self.limit} characters" + (" with all languages together" if self.together else "")


def texts_in_order(root: Path = PROJECT_ROOT, definitions: Path = DEFINITIONS) -> list[TextToTranslate]:
    found: dict[str, TextToTranslate] = {}
    for flow in load_flows(definitions).values():
        for text in _flow_texts(flow, root):
            found.setdefault(text.msgid, text)
    for filename, lineno, msgid, comments in _extracted(root):
        singular, plural = (msgid, None) if isinstance(msgid, str) else msgid
        if singular in found or filename.endswith(".yaml") and filename.startswith("flows/definitions"):
            continue
        limit, together = CODE_LIMIT, False
        for comment in comments:
            declared = _DECLARED.search(comment)
            if declared:
                limit, together = int(declared.group(1)), bool(declared.group(2))
        notes = [c.removeprefix("TRANSLATORS:").strip() for c in comments if not c.startswith("flow step:") and not _DECLARED.search(c)]
        if together:
            notes.append("It is sent with every language's version in one message, each on its own line.")
        kind = "phrase" if filename.endswith("phrases.yaml") else "text"
        found[singular] = TextToTranslate(singular, plural, None, None, kind, limit, together, _note(kind, singular, notes, plural), f"{filename}:{lineno}")
    return list(found.values())


def _flow_texts(flow: Flow, root: Path) -> list[TextToTranslate]:
    file = _relative(flow, root)
    texts = []
    for step in flow.steps.values():
        if step.say:
            texts.append(TextToTranslate(step.say, None, flow.id, step.id, "message", MAX_TEXT, False, _note("message", step.say), f"{file}:{step.say_line or step.line}"))
        row = step.layout == "row"
        for button in step.buttons:
            kind, limit = ("row button", MAX_ROW_LABEL) if row else ("button", MAX_LABEL)
            texts.append(TextToTranslate(button.label, None, flow.id, step.id, kind, limit, False, _note(kind, button.label), f"{file}:{button.line}"))
        if step.several is not None:
            done = step.several.done
            texts.append(TextToTranslate(done, None, flow.id, step.id, "done button", MAX_LABEL, False, _note("done button", done), f"{file}:{step.several.line}"))
    return texts


def _relative(flow: Flow, root: Path) -> str:
    path = Path(getattr(flow, "file", "") or "")
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path) or f"flows/definitions/{flow.id}.yaml"


_KINDS = {
    "message": "A message.",
    "button": f"A button: aim for {LABEL_AIM} characters.",
    "row button": "A button in a row of buttons: very short.",
    "done button": f"The button that ends a choice of several: aim for {LABEL_AIM} characters.",
    "text": "A message or part of one, written in the code.",
    "phrase": "The meaning of the Swedish phrase of the week, in plain words.",
}


def _note(kind: str, msgid: str, extra: list[str] | None = None, plural: str | None = None) -> str:
    parts = [_KINDS[kind], *(extra or [])]
    fields = sorted(placeholders(msgid) | (placeholders(plural) if plural else set()))
    if fields:
        parts.append("Keep " + ", ".join("{" + f + "}" for f in fields) + " exactly as written.")
    if plural:
        parts.append("One form per plural form of the language; {n} is the number.")
    return " ".join(parts)
