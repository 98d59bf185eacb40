"""The shipped flow definitions, read from ``flows/definitions/*.yaml``."""

from __future__ import annotations

from pathlib import Path

from flows.definition import Flow, load_flow

DEFINITIONS = Path(__file__).resolve().parent / "definitions"


def load_flows(directory: Path = DEFINITIONS) -> dict[str, Flow]:
    """Every flow in the folder; the first broken file stops loading with its FlowError."""
    return {flow.id: flow for flow in (load_flow(path) for path in sorted(directory.glob("*.yaml")))}
