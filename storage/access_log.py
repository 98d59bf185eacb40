"""The access log: who was shown which participants' personal data, what, and when (issue 9).

Every staff-facing place that shows a participant's data (a listing, a digest, a report with
names, an export, the audit itself) calls `record` in the same session as its work, so the row
commits with it; the digest's delivery calls `record_many` once for all caseworkers of a run.
Rows are only ever added: the database refuses UPDATE and DELETE (migration 0012). Each row's
participants are rows of `access_log_participants`, read through an index on participant id.

`actor` says who saw it: ``caseworker:<id>`` (their digest on Telegram or by email) or
``cli:<OS user>`` (a command; ``bot.services.Actor.command_line`` names the user).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AccessLog, AccessLogParticipant

# What was shown, in one word each; `stegvis audit` prints them as they are.
PARTICIPANT_LIST = "participant.list"
APPOINTMENT_LIST = "appointment.list"
CHECKIN_LIST = "checkin.list"
DIGEST_SHOW = "digest.show"
DIGEST_SEND = "digest.send"
REPORT_ATTENDANCE = "report.attendance"
REPORT_CHECKINS = "report.checkins"
FLOW_RESULTS = "flows.results"
AUDIT = "audit"
EXPORT = "participant.export"


@dataclass(frozen=True)
class Access:
    """One access to record: who saw what about which participants."""

    actor: str
    what: str
    participant_ids: Iterable[int]
    detail: str | None = None
    at: datetime | None = None  # when it was shown, if not `now` (a digest sent before its outcome was read)


@dataclass(frozen=True)
class AccessRow:
    """One row of the log as read back; `participant_ids` sorted."""

    id: int
    at: datetime
    actor: str
    what: str
    detail: str | None
    participant_ids: tuple[int, ...] = field(default=())

    def as_json(self, tz: Any = None) -> dict[str, Any]:
        return {"id": self.id, "at": (self.at.astimezone(tz) if tz else self.at).isoformat(), "actor": self.actor, "what": self.what, "detail": self.detail, "participant_ids": list(self.participant_ids)}


def actor_name(actor: Any) -> str:
    """The log's word for a `bot.services.Actor` (or a string already in that form)."""
    if isinstance(actor, str):
        return actor
    if getattr(actor, "caseworker_id", None) is not None:
        return f"caseworker:{actor.caseworker_id}"
    return f"{actor.kind}:{actor.name}"


async def record(session: AsyncSession, actor: Any, what: str, participant_ids: Iterable[int], *, now: datetime, detail: str | None = None) -> None:
    """Record that `actor` was shown `what` about these participants. Nothing is recorded for a
    listing that showed nobody: there is nobody whose data was seen."""
    await record_many(session, [Access(actor_name(actor), what, participant_ids, detail)], now=now)


async def record_many(session: AsyncSession, accesses: Sequence[Access], *, now: datetime) -> None:
    """Record many accesses with two statements, however many there are: the log rows in one
    INSERT … RETURNING, then every (row, participant) pair in one executemany."""
    if now.tzinfo is None:
        raise ValueError("naive datetime given as now; attach a time zone first")
    wanted = [(access, sorted(set(access.participant_ids))) for access in accesses]
    wanted = [(access, ids) for access, ids in wanted if ids]
    if not wanted:
        return
    rows = [{"at": access.at or now, "actor": access.actor, "what": access.what, "detail": access.detail} for access, _ in wanted]
    if len(rows) == 1:
        log_ids = [(await session.execute(insert(AccessLog).values(rows[0]).returning(AccessLog.id))).scalar_one()]
    else:
        result = await session.execute(insert(AccessLog).returning(AccessLog.id, sort_by_parameter_order=True), rows)
        log_ids = list(result.scalars())
    pairs = [{"log_id": log_id, "participant_id": pid} for log_id, (_, ids) in zip(log_ids, wanted, strict=True) for pid in ids]
    await session.execute(insert(AccessLogParticipant), pairs)


async def rows_about(session: AsyncSession, participant_id: int) -> list[AccessRow]:
    """Every access that showed this participant's data, oldest first. A row that showed others
    too names only this participant: a person's own copy says nothing about anyone else."""
    query = (
        select(AccessLog)
        .join(AccessLogParticipant, AccessLogParticipant.log_id == AccessLog.id)
        .where(AccessLogParticipant.participant_id == participant_id)
        .order_by(AccessLog.at, AccessLog.id)
    )
    return [AccessRow(row.id, row.at, row.actor, row.what, row.detail, (participant_id,)) for row in await session.scalars(query)]


async def rows_since(session: AsyncSession, since: datetime) -> list[AccessRow]:
    """Every access at or after `since`, oldest first, each with all the participants it showed."""
    logs = list(await session.scalars(select(AccessLog).where(AccessLog.at >= since).order_by(AccessLog.at, AccessLog.id)))
    if not logs:
        return []
    shown: dict[int, list[int]] = {}
    pairs = await session.execute(
        select(AccessLogParticipant.log_id, AccessLogParticipant.participant_id)
        .join(AccessLog, AccessLog.id == AccessLogParticipant.log_id)
        .where(AccessLog.at >= since)
        .order_by(AccessLogParticipant.log_id, AccessLogParticipant.participant_id)
    )
    for log_id, pid in pairs:
        shown.setdefault(log_id, []).append(pid)
    return [AccessRow(row.id, row.at, row.actor, row.what, row.detail, tuple(shown.get(row.id, ()))) for row in logs]
