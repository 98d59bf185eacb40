"""What flow administration plugs into the running bot: the published flow versions, reloaded when one is published."""

from __future__ import annotations

import logging
from typing import Any

from bot.features.flow_admin.services import KIND, versioned
from bot.registry import Features
from flows.definition import FlowError
from storage import flow_versions

log = logging.getLogger(__name__)


def register(features: Features, stegvis: Any) -> None:
    features.on_live_change(KIND, reload_flows)


async def reload_flows(stegvis: Any, revision: int) -> None:
    """Every published version into the engine (runs on older ones finish on them); the newest of each flow goes live."""
    engine = stegvis.engine
    async with stegvis.database.sessions() as session:
        rows = await flow_versions.every_version(session)
    newest: dict[str, int] = {}
    for row in rows:
        if (row.flow, row.version) not in engine.versions:
            try:
                engine.publish(versioned(row), live=False)
            except FlowError as error:  # checked when published; a newer Stegvis may read it otherwise
                log.error("flows: version %d of %s cannot be read by this Stegvis, the one before stays live: %s", row.version, row.flow, error)
                continue
        newest[row.flow] = row.version
    for flow_id, version in newest.items():
        flow = engine.versions[(flow_id, version)]
        if engine.flows.get(flow_id) is not flow:
            engine.publish(flow)
            log.info("flows: %s version %d is live (revision %d); conversations under way finish on their version", flow_id, version, revision)
