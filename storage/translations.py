"""Reading and writing the imported translations (the `translations` table).

Every function takes the caller's session and never commits. What a translation must satisfy
before it is stored (placeholders, plural forms, length) is checked by the translations feature
(``bot/features/translations/``); here it is only kept and read back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import live_content
from storage.models import Translation

LIVE_KIND = "translations"  # the kind of live content an import raises (storage/live_content.py)


@dataclass(frozen=True)
class Imported:
    """One accepted translation of one Swedish text."""

    msgid: str
    msgid_plural: str | None
    strings: tuple[str, ...]
    unreviewed: bool


async def latest_revision(session: AsyncSession) -> int:
    """The number of the newest import (0 when nothing was ever imported): a running bot reads the
    translations again when it grows."""
    return (await session.execute(select(func.max(Translation.revision)))).scalar() or 0


async def all_imported(session: AsyncSession) -> dict[str, dict[str, Imported]]:
    """language → Swedish msgid → its imported translation."""
    rows = (await session.execute(select(Translation.language, Translation.msgid, Translation.msgid_plural, Translation.strings, Translation.unreviewed))).all()
    found: dict[str, dict[str, Imported]] = {}
    for language, msgid, plural, strings, unreviewed in rows:
        found.setdefault(language, {})[msgid] = Imported(msgid, plural, tuple(strings), bool(unreviewed))
    return found


async def store(session: AsyncSession, language: str, entries: Sequence[Imported], *, source: str, now: datetime) -> int:
    """Keep these translations of one language, replacing earlier imports of the same texts; returns the revision."""
    revision = await latest_revision(session) + 1
    msgids = [entry.msgid for entry in entries]
    for start in range(0, len(msgids), 500):  # SQLite's bound-parameter limit
        chunk = msgids[start : start + 500]
        await session.execute(delete(Translation).where(Translation.language == language, Translation.msgid.in_(chunk)))
    if entries:
        await session.execute(
            insert(Translation),
            [
                {
                    "language": language, "msgid": e.msgid, "msgid_plural": e.msgid_plural, "strings": list(e.strings),
                    "unreviewed": e.unreviewed, "revision": revision, "source": source[:200], "imported_at": now,
                }
                for e in entries
            ],
        )
    await live_content.bump(session, LIVE_KIND, now)  # running bots reload when this commits
    return revision
