"""Published flow versions: store one, read a flow's history, one version's text, and the live version of each flow.

Version 1 is the file shipped in ``flows/definitions/`` and is not stored; published versions are
numbered from 2 (``FIRST_PUBLISHED``). The live version of a flow is its newest row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import FlowVersion

SHIPPED = 1  # the version number of the file shipped with Stegvis
FIRST_PUBLISHED = 2


async def add(session: AsyncSession, *, flow: str, text: str, note: str | None, published_by: str, now: datetime, rollback_of: int | None = None) -> FlowVersion:
    """The next version of `flow` (the unique key refuses a second publisher of the same number)."""
    newest = await session.scalar(select(func.max(FlowVersion.version)).where(FlowVersion.flow == flow))
    row = FlowVersion(
        flow=flow, version=max(newest or SHIPPED, SHIPPED) + 1, text=text, note=note, published_by=published_by[:64], published_at=now, rollback_of=rollback_of
    )
    session.add(row)
    await session.flush()
    return row


async def history(session: AsyncSession, flow: str) -> list[FlowVersion]:
    """The published versions of `flow`, oldest first."""
    return list(await session.scalars(select(FlowVersion).where(FlowVersion.flow == flow).order_by(FlowVersion.version)))


async def get(session: AsyncSession, flow: str, version: int) -> FlowVersion | None:
    return await session.scalar(select(FlowVersion).where(FlowVersion.flow == flow, FlowVersion.version == version))


async def every_version(session: AsyncSession) -> list[FlowVersion]:
    """Every published version of every flow, by flow and version (the running bot keeps them all)."""
    return list(await session.scalars(select(FlowVersion).order_by(FlowVersion.flow, FlowVersion.version)))
