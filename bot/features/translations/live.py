"""Imported translations go live in a running bot: read the `translations` table again when it changed.

`reload_translations(stegvis)` lays every imported translation over the ``.po`` files in the
bot's one `locales.Catalogs`; replies, questions and outbox messages written after it use them.
The feature's job calls it at start-up and whenever the newest import's revision differs from the
one it last read (`storage.translations.latest_revision`), every `EVERY` seconds, so an import
made by ``stegvis translations import`` in another process is live within that time.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from storage import translations as stored

if TYPE_CHECKING:
    from bot.app import Stegvis

log = logging.getLogger(__name__)

EVERY = 10.0  # seconds between two looks at the newest revision: one indexed MAX() each


async def reload_translations(stegvis: Stegvis) -> int:
    """Read every imported translation and lay it over the catalogs; returns the revision read."""
    async with stegvis.database.sessions() as session:
        revision = await stored.latest_revision(session)
        imported = await stored.all_imported(session)
    overlay = {code: {msgid: (entry.msgid_plural, entry.strings) for msgid, entry in entries.items()} for code, entries in imported.items()}
    # Compiling the catalogs reads five files: off the event loop, and swapped in at once.
    await asyncio.to_thread(stegvis.catalogs.reload, overlay)
    return revision


class Watch:
    """The job: reload when the newest revision is not the one read last."""

    def __init__(self) -> None:
        self.revision: int | None = None

    async def __call__(self, stegvis: Stegvis) -> None:
        async with stegvis.database.sessions() as session:
            newest = await stored.latest_revision(session)
        if newest == self.revision:
            return
        if self.revision is None and newest == 0:
            self.revision = 0  # nothing was ever imported: the catalogs as loaded are right
            return
        self.revision = await reload_translations(stegvis)
        if self.revision:
            log.info("translations: imported translations of revision %d are live", self.revision)
