"""Reading and writing the stored records; every function takes the caller's session and never commits.

The caller owns the transaction. Functions flush only where the caller needs a new row's id at
once (caseworkers, participants, invites); everything else goes out with the caller's commit.
Every `now` is an aware datetime from the caller's clock: nothing here reads the time itself.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from storage.models import (
    Caseworker,
    ConsentAnswer,
    ConsentRecord,
    Conversation,
    Event,
    Invite,
    Participant,
    ParticipantStatus,
)

# secrets.token_urlsafe output; anything else cannot be one of our codes, so it costs no query.
_INVITE_CODE = re.compile(r"[A-Za-z0-9_-]{1,64}")
def dialect_insert(session: AsyncSession | Any) -> Any:
    """The INSERT with ON CONFLICT for the session's (or connection's) database; both backends
    Stegvis runs on have one. Imported when first needed: SQLAlchemy's PostgreSQL dialect costs
    a CLI command on SQLite a tenth of a second to import."""
    dialect = session.dialect if hasattr(session, "dialect") else session.get_bind().dialect
    if dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


class InviteNotUsable(Exception):
    """An invite that cannot be redeemed; `reason` says why, for the caller to explain politely."""

    def __init__(self, reason: Literal["expired", "used", "chat_taken"]) -> None:
        super().__init__(reason)
        self.reason = reason


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        # Comparing it with stored (aware) timestamps would fail later, far from the mistake.
        raise ValueError("naive datetime given as now; attach a time zone first")
    return now


# Caseworkers and participants


async def add_caseworker(session: AsyncSession, name: str, email: str | None = None, *, now: datetime) -> Caseworker:
    caseworker = Caseworker(name=name, email=email, created_at=_aware(now))
    session.add(caseworker)
    await session.flush()
    return caseworker


async def get_caseworker(session: AsyncSession, caseworker_id: int) -> Caseworker | None:
    return await session.get(Caseworker, caseworker_id)


async def add_participant(
    session: AsyncSession, name: str, caseworker_id: int, language: str | None = None, *, now: datetime
) -> Participant:
    participant = Participant(
        name=name,
        caseworker_id=caseworker_id,
        language=language,
        status=ParticipantStatus.INVITED,
        created_at=_aware(now),
        updated_at=now,
    )
    session.add(participant)
    await session.flush()
    return participant


async def get_participant(session: AsyncSession, participant_id: int) -> Participant | None:
    return await session.get(Participant, participant_id)


async def list_participants(
    session: AsyncSession, caseworker_id: int | None = None
) -> list[Participant]:
    # De-identified rows an erasure leaves (status erased) are nobody: never listed.
    query = select(Participant).where(Participant.status != ParticipantStatus.ERASED).order_by(Participant.id)
    if caseworker_id is not None:
        query = query.where(Participant.caseworker_id == caseworker_id)
    return list(await session.scalars(query))


# Invites


def invite_hash(code: str) -> str:
    """What is stored of an invite code: its SHA-256, hex. A code is 256 random bits, so a plain
    hash cannot be reversed by trying codes, and the lookup stays one indexed equality."""
    return hashlib.sha256(code.encode()).hexdigest()


async def create_invite(session: AsyncSession, participant_id: int, ttl: timedelta, *, now: datetime) -> tuple[Invite, str]:
    """A new invite and its code. The code is handed back here only: the database keeps its hash,
    so the link can be shown once, now, and never again."""
    if ttl <= timedelta(0):
        raise ValueError("an invite's ttl must be positive")
    now = _aware(now)
    code = secrets.token_urlsafe(32)
    invite = Invite(
        code_hash=invite_hash(code),
        participant_id=participant_id,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(invite)
    await session.flush()
    return invite, code


async def find_invite(session: AsyncSession, code: str) -> Invite | None:
    if not isinstance(code, str) or not _INVITE_CODE.fullmatch(code):
        return None
    return await session.scalar(select(Invite).where(Invite.code_hash == invite_hash(code)))


async def redeem_invite(session: AsyncSession, invite: Invite, chat_id: int, *, now: datetime) -> Participant:
    """Link the invited participant to this Telegram chat and use up the invite.

    Raises InviteNotUsable. Two chats racing for one invite are settled by the conditional
    UPDATE below; two invites racing for one chat, by the unique chat id (IntegrityError on flush).
    """
    now = _aware(now)
    if invite.used_at is not None:
        raise InviteNotUsable("used")
    if now >= invite.expires_at:
        raise InviteNotUsable("expired")

    # One query for both the invited participant and whoever already has this chat.
    rows = await session.scalars(
        select(Participant).where(
            or_(Participant.id == invite.participant_id, Participant.telegram_chat_id == chat_id)
        )
    )
    by_id = {participant.id: participant for participant in rows}
    participant = by_id.pop(invite.participant_id)
    if by_id:
        raise InviteNotUsable("chat_taken")

    claimed = await session.execute(
        update(Invite)
        .where(Invite.id == invite.id, Invite.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise InviteNotUsable("used")
    # Already written by the UPDATE above; setting it normally would write it a second time.
    set_committed_value(invite, "used_at", now)
    participant.telegram_chat_id = chat_id
    participant.updated_at = now
    return participant


# Consent


async def record_consent(
    session: AsyncSession,
    participant_id: int,
    notice_version: str,
    answer: ConsentAnswer,
    *,
    now: datetime,
) -> ConsentRecord:
    record = ConsentRecord(
        participant_id=participant_id,
        notice_version=notice_version,
        answer=ConsentAnswer(answer),
        recorded_at=_aware(now),
    )
    session.add(record)
    return record


async def latest_consent(session: AsyncSession, participant_id: int) -> ConsentRecord | None:
    return await session.scalar(
        select(ConsentRecord)
        .where(ConsentRecord.participant_id == participant_id)
        .order_by(ConsentRecord.recorded_at.desc(), ConsentRecord.id.desc())
        .limit(1)
    )


# Conversations


async def load_conversation(session: AsyncSession, participant_id: int) -> Conversation | None:
    return await session.get(Conversation, participant_id)


async def save_conversation(
    session: AsyncSession,
    participant_id: int,
    flow: str | None,
    step: str | None,
    data: dict[str, Any],
    *,
    now: datetime,
) -> None:
    values = {"flow": flow, "step": step, "data": data, "updated_at": _aware(now)}
    # Runs on every Telegram update, so a single upsert instead of a read followed by a write.
    await session.execute(
        dialect_insert(session)(Conversation)
        .values(participant_id=participant_id, **values)
        .on_conflict_do_update(index_elements=[Conversation.participant_id], set_=values)
    )
    # A Conversation loaded earlier in this session would otherwise keep showing the old step.
    loaded = session.identity_map.get(identity_key(Conversation, participant_id))
    if loaded is not None:
        for key, value in values.items():
            set_committed_value(loaded, key, value)


async def save_conversations_dated(session: AsyncSession, states: dict[int, tuple[str | None, str | None, dict[str, Any], datetime]]) -> None:
    """Many participants' (flow, step, data, as of) in one statement; a newer stored state wins.

    For the sender: each state is dated when its message was handed to Telegram, so a participant
    who answered before this write keeps their progress.
    """
    if not states:
        return
    statement = dialect_insert(session)(Conversation)
    statement = statement.on_conflict_do_update(
        index_elements=[Conversation.participant_id],
        set_={name: statement.excluded[name] for name in ("flow", "step", "data", "updated_at")},
        where=Conversation.updated_at <= statement.excluded.updated_at,
    )
    rows = [
        {"participant_id": pid, "flow": flow, "step": step, "data": dict(data), "updated_at": as_of}
        for pid, (flow, step, data, as_of) in states.items()
    ]
    await session.execute(statement, rows)


# Events


async def append_event(
    session: AsyncSession,
    type: str,
    participant_id: int | None,
    payload: dict[str, Any] | None = None,
    flow: str | None = None,
    step: str | None = None,
    *,
    occurred_at: datetime,
) -> Event:
    event = Event(
        type=type,
        participant_id=participant_id,
        payload={} if payload is None else payload,
        flow=flow,
        step=step,
        occurred_at=_aware(occurred_at),
    )
    session.add(event)
    return event


async def list_events(
    session: AsyncSession,
    participant_id: int | None = None,
    types: Iterable[str] | None = None,
    since: datetime | None = None,
) -> list[Event]:
    """Events in the order they happened; `since` is inclusive."""
    query = select(Event).order_by(Event.occurred_at, Event.id)
    if participant_id is not None:
        query = query.where(Event.participant_id == participant_id)
    if types is not None:
        # A bare string is one type, not a sequence of one-letter types.
        query = query.where(Event.type.in_([types] if isinstance(types, str) else list(types)))
    if since is not None:
        query = query.where(Event.occurred_at >= _aware(since))
    return list(await session.scalars(query))
