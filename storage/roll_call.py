"""Reading and writing activity leaders, the activities they lead, and the attendance they record.

Every function takes the caller's session and never commits, except `attendance_changes`, which
only *builds* the writes of one roll-call change as a `storage.writer.Changes` (SQLAlchemy Core
statements), so the hot path's store and a CLI session write exactly the same thing. The rules
(who may record what, which days are sessions) live in ``bot/features/roll_call/``.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Activity, Attendance, Event, Leader, LeaderActivity
from storage.repositories import dialect_insert, invite_hash
from storage.writer import Changes

# A leader's invite code starts with this, and a participant's never does (token_urlsafe codes
# are looked up in `invites` only when they do not): the two lookups can never mix them up.
LEADER_CODE_PREFIX = "lead-"
ATTENDANCE_RECORDED = "attendance_recorded"


def new_leader_code() -> str:
    return LEADER_CODE_PREFIX + secrets.token_urlsafe(27)  # 41 characters: within /start's 64


def is_leader_code(code: str | None) -> bool:
    return isinstance(code, str) and code.startswith(LEADER_CODE_PREFIX) and 8 <= len(code) <= 64


async def add_leader(session: AsyncSession, *, name: str, activity_ids: Collection[int], invite_ttl: timedelta, now: datetime) -> tuple[Leader, str]:
    """A new leader and their invite code: handed back here only, the database keeps its hash."""
    code = new_leader_code()
    leader = Leader(
        name=name, language=None, telegram_chat_id=None, invite_code_hash=invite_hash(code),
        invite_expires_at=now + invite_ttl, invite_used_at=None, created_at=now, updated_at=now,
    )
    session.add(leader)
    await session.flush()
    session.add_all(LeaderActivity(leader_id=leader.id, activity_id=aid) for aid in sorted(set(activity_ids)))
    await session.flush()
    return leader, code


async def new_invite(session: AsyncSession, leader: Leader, *, invite_ttl: timedelta, now: datetime) -> str:
    """A fresh code for a leader, handed back (its hash is stored); the old one stops working."""
    code = new_leader_code()
    leader.invite_code_hash = invite_hash(code)
    leader.invite_expires_at = now + invite_ttl
    leader.invite_used_at = None
    leader.updated_at = now
    await session.flush()
    return code


async def get_leader(session: AsyncSession, leader_id: int) -> Leader | None:
    return await session.get(Leader, leader_id)


async def list_leaders(session: AsyncSession) -> list[Leader]:
    return list(await session.scalars(select(Leader).order_by(Leader.id)))


async def led_activities(session: AsyncSession, leader_ids: Collection[int]) -> dict[int, list[int]]:
    """leader id → the ids of the activities they lead, in order."""
    found: dict[int, list[int]] = {lid: [] for lid in leader_ids}
    if not leader_ids:
        return found
    rows = await session.execute(
        select(LeaderActivity.leader_id, LeaderActivity.activity_id).where(LeaderActivity.leader_id.in_(sorted(leader_ids))).order_by(LeaderActivity.activity_id)
    )
    for lid, aid in rows:
        found[lid].append(aid)
    return found


async def leaders_of(session: AsyncSession, activity_ids: Collection[int]) -> dict[int, list[int]]:
    """activity id → the ids of its leaders."""
    found: dict[int, list[int]] = {aid: [] for aid in activity_ids}
    if not activity_ids:
        return found
    rows = await session.execute(select(LeaderActivity.activity_id, LeaderActivity.leader_id).where(LeaderActivity.activity_id.in_(sorted(activity_ids))))
    for aid, lid in rows:
        found[aid].append(lid)
    return found


async def activities_with_leaders(session: AsyncSession) -> list[int]:
    return list(await session.scalars(select(LeaderActivity.activity_id).join(Activity).distinct().order_by(LeaderActivity.activity_id)))


async def find_by_code(session: AsyncSession, code: str) -> Leader | None:
    if not is_leader_code(code):
        return None
    return await session.scalar(select(Leader).where(Leader.invite_code_hash == invite_hash(code)))


async def link_chat(session: AsyncSession, leader: Leader, chat_id: int, language: str, *, now: datetime) -> bool:
    """Link the leader to this chat and use up the code; False when another chat was faster."""
    result = await session.execute(
        update(Leader)
        .where(Leader.id == leader.id, Leader.invite_used_at.is_(None))
        .values(telegram_chat_id=chat_id, language=language, invite_used_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def attendance_of(session: AsyncSession, activity_id: int, day: date) -> dict[int, Attendance]:
    rows = await session.scalars(select(Attendance).where(Attendance.activity_id == activity_id, Attendance.local_date == day))
    return {row.participant_id: row for row in rows}


@dataclass(frozen=True)
class Mark:
    """One participant's mark in a roll call: there (True) or not (False)."""

    participant_id: int
    present: bool


def attendance_changes(dialect_of: Any, activity_id: int, day: date, marks: Sequence[Mark], by: str, now: datetime) -> Changes:
    """The writes of one roll-call change: each mark's attendance row (inserted, or corrected in
    place) and its ``attendance_recorded`` event on the participant's log, as one unit of work.

    `dialect_of` is anything with a ``dialect`` (an engine, a session's bind) for the upsert.
    The unit is filed under the first participant: every write is a statement of its own.
    """
    if not marks:
        raise ValueError("a roll-call change marks at least one participant")
    changes = Changes(marks[0].participant_id, now)
    upsert = dialect_insert(dialect_of)(Attendance)
    for mark in marks:
        values = {"present": mark.present, "recorded_by": by, "recorded_at": now}
        changes.statements.append(
            upsert.values(activity_id=activity_id, local_date=day, participant_id=mark.participant_id, **values).on_conflict_do_update(
                index_elements=[Attendance.activity_id, Attendance.local_date, Attendance.participant_id], set_=values
            )
        )
        payload = {"activity_id": activity_id, "date": day.isoformat(), "present": mark.present, "by": by}
        changes.statements.append(
            insert(Event).values(type=ATTENDANCE_RECORDED, participant_id=mark.participant_id, occurred_at=now, payload=payload, flow=None, step=None)
        )
    return changes
