"""Imported translations go live in a running bot: read the `translations` table again when it changed.

`reload_translations(stegvis)` lays every imported translation over the ``.po`` files in the
bot's one `locales.Catalogs`; replies, questions and outbox messages written after it use them.
An import raises the live-content revision of kind ``translations`` (``storage.live_content``);
every running bot polls it (``bot/live_reload.py``) and calls `translations_changed`, so an import
made by ``stegvis translations import`` in another process is live within seconds.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from storage import translations as stored
from storage.translations import LIVE_KIND as KIND

if TYPE_CHECKING:
    from bot.app import Stegvis

log = logging.getLogger(__name__)

async def reload_translations(stegvis: Stegvis) -> int:
    """Read every imported translation and lay it over the catalogs; returns the revision read."""
    async with stegvis.database.sessions() as session:
        revision = await stored.latest_revision(session)
        imported = await stored.all_imported(session)
    overlay = {code: {msgid: (entry.msgid_plural, entry.strings) for msgid, entry in entries.items()} for code, entries in imported.items()}
    # Compiling the catalogs reads five files: off the event loop, and swapped in at once.
    await asyncio.to_thread(stegvis.catalogs.reload, overlay)
    return revision


async def translations_changed(stegvis: Stegvis, revision: int) -> None:
    """The hook for live content of kind ``translations`` (``bot/live_reload.py`` calls it at
    start-up and whenever an import raised the revision)."""
    if revision == 0:
        return  # nothing was ever imported: the catalogs as loaded are right
    read = await reload_translations(stegvis)
    log.info("translations: imported translations of revision %d are live", read)
