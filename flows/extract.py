"""Babel extraction method for flow YAML, so ``pybabel extract`` collects the texts of the flows.

Registered as ``stegvis_flow`` (entry point) and usable as ``flows.extract:extract_flow`` in a
Babel mapping file; see ``babel.cfg``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from flows.definition import parse_flow


def extract_flow(fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any) -> Iterator[tuple[int, None, str, list[str]]]:
    flow = parse_flow(fileobj.read(), file=getattr(fileobj, "name", "<flow>"))
    for line, text, where in flow.texts():
        yield line, None, text, [f"flow step: {where}"]
