"""Content that running bots reload without a restart: a revision counter per kind, raised by whoever changes it.

A change to such content (a flow published, translations imported) calls ``bump(session, kind,
now)`` in the transaction that stores the change, so the counter moves exactly when the change is
committed. Every ``stegvis run`` reads ``revisions(session)`` every couple of seconds
(``bot/live_reload.py``) and calls the reload hooks registered for each kind whose revision moved.
No restart, no signal: processes on other machines see it through the shared database.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import LiveContent


async def bump(session: AsyncSession, kind: str, now: datetime) -> int:
    """Raise `kind`'s revision (the first is 1); the new revision. Commit with the change it announces."""
    insert = postgresql_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    table = LiveContent.__table__
    statement = (
        insert(table)
        .values(kind=kind, revision=1, changed_at=now)
        # One statement, so two publishers at once get two revisions, not one lost update.
        .on_conflict_do_update(index_elements=[table.c.kind], set_={"revision": table.c.revision + 1, "changed_at": now})
        .returning(table.c.revision)
    )
    return int((await session.execute(statement)).scalar_one())


async def revisions(session: AsyncSession) -> dict[str, int]:
    """Every kind's current revision (a kind never bumped is absent)."""
    return {kind: revision for kind, revision in (await session.execute(select(LiveContent.kind, LiveContent.revision))).all()}
