"""The versions of the flow file format, and the migration that brings an older file up to the newest.

A flow file says which format it is written in: ``format: 2`` (the newest), or ``spec: 1`` (the
first format, before it had this name). A file in an older format is migrated as it is read, on
its YAML nodes, so that every error still names the line in the file the administrator wrote;
the file itself is never rewritten behind their back. Published versions keep the text as it was
published, so an old version stays readable by a newer Stegvis.

Format 1 → 2:

* ``spec: 1`` becomes ``format: 2``.
* In format 1 a button or a typed answer without an ``event`` recorded the event ``answered``,
  which no report reads: an answer that was silently lost. Format 2 asks every answer to say the
  event it records, once for the whole step (the step's ``event``) or per button; the migration
  writes ``event: answered`` where format 1 meant it, so an old file records what it always did.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FORMAT = 2  # the newest format: what `stegvis flows check` asks new files to use
OLDEST = 1
DEFAULT_EVENT_V1 = "answered"  # what format 1 recorded for an answer that named no event


def _upgrade_1_to_2(root: Any) -> Any:
    node = type(root)
    fields = dict(root.value)
    key_lines = dict(root.key_lines)
    key = "spec" if "spec" in fields else "format"  # format 1 was written `spec: 1` (or `format: 1`)
    spec = fields.pop(key)
    line = key_lines.pop(key)
    # `format` first, where `spec` was: the order of the keys is the order of the file.
    fields = {"format": node(FORMAT, spec.line), **fields}
    key_lines = {"format": line, **key_lines}
    steps = fields.get("steps")
    if steps is not None and isinstance(steps.value, dict):
        for step in steps.value.values():
            if isinstance(step.value, dict) and "several" not in step.value:
                _add_default_events(step, node)
    return node(fields, root.line, key_lines)


def _add_default_events(step: Any, node: type) -> None:
    buttons = step.value.get("buttons")
    if buttons is not None and isinstance(buttons.value, list):
        for button in buttons.value:
            _add_event(button, node)
    text_input = step.value.get("text_input")
    if text_input is not None:
        _add_event(text_input, node)


def _add_event(mapping: Any, node: type) -> None:
    if isinstance(mapping.value, dict) and "event" not in mapping.value:
        mapping.value["event"] = node(DEFAULT_EVENT_V1, mapping.line)
        mapping.key_lines["event"] = mapping.line


# MIGRATIONS[n] turns a format-n file into a format n+1 file.
MIGRATIONS: dict[int, Callable[[Any], Any]] = {1: _upgrade_1_to_2}


def upgrade(root: Any, version: int) -> Any:
    """The file's nodes in the newest format, migrated one version at a time."""
    for step in range(version, FORMAT):
        root = MIGRATIONS[step](root)
    return root
