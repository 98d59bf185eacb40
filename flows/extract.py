"""Babel extraction method for flow YAML, so ``pybabel extract`` collects the texts of the flows.

Registered as ``stegvis_flow`` (entry point) and usable as ``flows.extract:extract_flow`` in a
Babel mapping file; see ``babel.cfg``. The phrases of the week (``flows/phrases.yaml``) go through
the same method, which hands that one file to `flows.phrases.extract_phrases`: Babel's mapping
file cannot name a ``module:function`` method, and a second entry point would need every
checkout to be installed again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from pathlib import Path

from flows.definition import parse_flow
from flows.phrases import PHRASES, extract_phrases


def extract_flow(fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any) -> Iterator[tuple[int, None, str, list[str]]]:
    if Path(getattr(fileobj, "name", "")).name == PHRASES.name:
        yield from extract_phrases(fileobj, keywords, comment_tags, options)
        return
    flow = parse_flow(fileobj.read(), file=getattr(fileobj, "name", "<flow>"))
    for line, text, where in flow.texts():
        yield line, None, text, [f"flow step: {where}"]
