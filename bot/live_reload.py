"""The running bot's side of live content: poll the revision counters, call the reload hooks of each kind that moved.

``storage/live_content.py`` keeps one revision per kind; a feature registers what to reload for
a kind with ``features.on_live_change(kind, reload)``. The scheduler runs ``LiveReloader.poll``
every ``POLL_SECONDS`` (and once at start-up, when every hook runs), so every ``stegvis run``
sharing the database picks a change up within a few seconds, without a restart or a signal.
A hook that fails is logged and tried again at the next poll: the bot goes on with what it had.
"""

from __future__ import annotations

import logging
from typing import Any

from storage import live_content

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0  # a change is live in every bot within this and one reload's time (under 5 s)
JOB_ID = "live-content"


class LiveReloader:
    def __init__(self) -> None:
        self.seen: dict[str, int] = {}  # the revision each kind was last reloaded at

    async def poll(self, stegvis: Any) -> None:
        hooks = stegvis.features.live_reloads
        if not hooks:
            return
        async with stegvis.database.sessions() as session:
            revisions = await live_content.revisions(session)
        for kind, reloads in hooks.items():
            revision = revisions.get(kind, 0)
            if self.seen.get(kind) == revision:
                continue
            try:
                for reload in reloads:
                    await reload(stegvis, revision)
            except Exception:  # noqa: BLE001 - the bot goes on with what it had; the next poll tries again
                log.exception("live content %s: reloading revision %d failed; trying again at the next poll", kind, revision)
                continue
            self.seen[kind] = revision
