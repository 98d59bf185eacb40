"""A flow's mermaid diagram, made from its file, and the docs page that shows it between two markers.

The diagram in ``docs/flows/<flow>.md`` is never drawn by hand: ``stegvis flows diagram FLOW
--write`` puts it between ``BEGIN`` and ``END`` below, and tests/test_flow_admin.py fails when a
committed diagram no longer matches its flow file.
"""

from __future__ import annotations

from pathlib import Path

from flows.definition import DONE, Flow, Step

DOCS = Path(__file__).resolve().parents[3] / "docs" / "flows"
BEGIN = "<!-- diagram: made by `stegvis flows diagram {flow} --write` from flows/definitions/{flow}.yaml; do not edit by hand -->"
END = "<!-- end of diagram -->"
SHORT = 48


def _short(text: str) -> str:
    first = " ".join(text.split())
    first = first if len(first) <= SHORT else first[: SHORT - 1] + "…"
    return first.replace(":", "﹕").replace(";", ",")  # a colon or semicolon would end mermaid's label


def mermaid(flow: Flow) -> str:
    lines = ["stateDiagram-v2", f"    [*] --> {flow.start}"]
    lines += [f"    [*] --> {entry}: started here" for entry in flow.entries]
    for step in flow.steps.values():
        lines.append(f"    {step.id}: {step.id} - {_describe(step)}")
    lines.append("")
    for step in flow.steps.values():
        lines += [f"    {step.id} --> {target}: {label}" if label else f"    {step.id} --> {target}" for target, label in _edges(step)]
    return "\n".join(lines)


def _describe(step: Step) -> str:
    if step.language_picker:
        return "the language picker"
    assert step.say is not None
    return f"«{_short(step.say)}»"


def _edges(step: Step) -> list[tuple[str, str]]:
    edges = _answer_edges(step)
    if step.timeout is not None:
        timeout = step.timeout
        after = f"no answer after {timeout.text}"
        edges.append((timeout.next, after) if timeout.next else ("[*]", f"{after} ({timeout.event})"))
    return edges


def _answer_edges(step: Step) -> list[tuple[str, str]]:
    edges: list[tuple[str, str]] = []
    end = "[*]"
    if step.several is not None:
        edges.append((step.id, "ticks or unticks a choice"))
        edges.append((step.several.next or end, f"presses «{_short(step.several.done)}» ({step.several.event})"))
        return edges
    if step.language_picker:
        return [(step.next or end, "chooses a language (language_chosen)")]
    for button in step.buttons:
        edges.append((button.next or end, f"presses «{_short(button.label)}» ({button.event})"))
    if step.text_input is not None:
        edges.append((step.text_input.next or end, f"types up to {step.text_input.max_length} characters ({step.text_input.event})"))
    if step.buttons or step.text_input is not None:
        return edges
    for branch in step.branches:
        if branch.step is None:
            edges.append((branch.go, "otherwise"))
        else:
            edges.append((branch.go, f"if {branch.step} is {' or '.join(sorted(branch.answers))}"))
    if not step.branches:
        edges.append((step.next or end, ""))
    return edges


def page(flow_id: str) -> Path:
    return DOCS / f"{flow_id}.md"


def block(flow: Flow, text: str | None = None) -> str:
    """The marked block as it belongs in the page."""
    return "\n".join([BEGIN.format(flow=flow.id), "```mermaid", text or mermaid(flow), "```", END])


def committed(flow_id: str) -> str | None:
    """The marked block in the page as it is committed, or None without markers."""
    content = page(flow_id).read_text(encoding="utf-8") if page(flow_id).exists() else ""
    start = content.find(BEGIN.format(flow=flow_id))
    stop = content.find(END, start)
    if start < 0 or stop < 0:
        return None
    return content[start : stop + len(END)]


def write_into_page(flow_id: str, text: str) -> Path:
    """Put the diagram between the page's markers (or in place of its first mermaid block)."""
    from flows.definition import load_flow
    from flows.library import DEFINITIONS

    flow = load_flow(DEFINITIONS / f"{flow_id}.yaml")
    path = page(flow_id)
    content = path.read_text(encoding="utf-8") if path.exists() else f"# {flow_id}\n\n## The steps as a diagram\n\n"
    new = block(flow, text)
    old = committed(flow_id)
    if old is not None:
        content = content.replace(old, new)
    elif "```mermaid" in content:
        start = content.index("```mermaid")
        stop = content.index("```", start + 3) + 3
        content = content[:start] + new + content[stop:]
    else:
        content = content.rstrip("\n") + "\n\n" + new + "\n"
    path.write_text(content, encoding="utf-8")
    return path
