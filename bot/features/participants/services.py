"""Caseworkers, participants and invites, as typed services (a session, an actor, typed arguments).

Each function works in the caller's session and commits nothing itself except where it says so;
refusals are `bot.services.ServiceError`s in a caseworker's words. An invite is a single-use
code for a participant's personal link (``https://t.me/<bot>?start=<code>``); a new one voids
the ones not yet used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import Actor, Conflict, InvalidInput, NotFound, invalid
from bot.validation import clean_name, parse_email
from locales import parse_language
from storage import access_log
from storage import digests as caseworker_telegram
from storage import repositories as repo
from storage.models import Gender, Invite, Participant, ParticipantStatus

# What `--gender` accepts: a `Gender`, or "none" to clear it (not given).
GENDER_CHOICES = (*(g.value for g in Gender), "none")


@dataclass(frozen=True)
class CaseworkerAdded:
    caseworker_id: int
    name: str
    email: str | None
    # Their personal Telegram invite (a ``case-`` code): the digest and participants' messages reach them there.
    invite_code: str | None = None
    invite_expires_at: datetime | None = None


@dataclass(frozen=True)
class InviteIssued:
    participant_id: int
    code: str
    expires_at: datetime


@dataclass(frozen=True)
class ParticipantAdded:
    participant_id: int
    name: str
    caseworker_id: int
    language: str | None
    invite: InviteIssued


@dataclass(frozen=True)
class ParticipantSummary:
    participant_id: int
    name: str
    caseworker_id: int
    language: str | None
    status: str
    connected: bool


@dataclass(frozen=True)
class ParticipantEdited:
    participant_id: int
    name: str
    gender: str | None


def parse_gender(text: str) -> Gender | None:
    """A `Gender` from ``woman``, ``man``, ``other`` or ``unknown`` (any case); None from ``none``."""
    value = text.strip().lower()
    if value == "none":
        return None
    try:
        return Gender(value)
    except ValueError:
        raise ValueError(f"must be one of {', '.join(GENDER_CHOICES)} (none clears it), not {text!r}") from None


def checked_name(name: str) -> str:
    try:
        return clean_name(name)
    except ValueError as error:
        raise invalid("name", error) from None


async def add_caseworker(session: AsyncSession, actor: Actor, *, name: str, email: str | None, now: datetime, invite_days: int = 14) -> CaseworkerAdded:
    name = checked_name(name)
    try:
        address = parse_email(email) if email else None
    except ValueError as error:
        raise invalid("email", error) from None
    caseworker = await repo.add_caseworker(session, name, address, now=now)
    code = await caseworker_telegram.new_invite(session, caseworker, invite_ttl=timedelta(days=invite_days), now=now)
    return CaseworkerAdded(caseworker.id, caseworker.name, caseworker.email, code, caseworker.invite_expires_at)


async def add_participant(
    session: AsyncSession, actor: Actor, *, name: str, caseworker_id: int, language: str | None, now: datetime, invite_days: int
) -> ParticipantAdded:
    name = checked_name(name)
    try:
        code = parse_language(language).code if language else None
    except ValueError as error:
        raise invalid("language", error) from None
    if await repo.get_caseworker(session, caseworker_id) is None:
        raise NotFound(f"no caseworker with id {caseworker_id} (see: stegvis caseworker add)", field="caseworker")
    participant = await repo.add_participant(session, name, caseworker_id, code, now=now)
    invite, invite_code = await repo.create_invite(session, participant.id, timedelta(days=invite_days), now=now)
    return ParticipantAdded(participant.id, participant.name, caseworker_id, code, InviteIssued(participant.id, invite_code, invite.expires_at))


async def list_participants(session: AsyncSession, actor: Actor, *, now: datetime) -> list[ParticipantSummary]:
    """Every participant with their name; the listing is recorded in the access log."""
    found = [
        ParticipantSummary(p.id, p.name, p.caseworker_id, p.language, ParticipantStatus(p.status).value, p.telegram_chat_id is not None)
        for p in await repo.list_participants(session)
    ]
    await access_log.record(session, actor, access_log.PARTICIPANT_LIST, [p.participant_id for p in found], now=now)
    return found


async def issue_invite(session: AsyncSession, actor: Actor, *, participant_id: int, now: datetime, invite_days: int) -> InviteIssued:
    """A new personal link for a participant (theirs expired, or was lost); the old ones stop working."""
    participant = await session.get(Participant, participant_id)
    if participant is None:
        raise NotFound(f"no participant with id {participant_id} (see: stegvis participant list)", field="participant")
    if participant.telegram_chat_id is not None:
        raise InvalidInput(
            f"participant {participant_id} has already joined from Telegram; a new link is only for someone who has not joined yet",
            field="participant",
        )
    if participant.status in (ParticipantStatus.FINISHED, ParticipantStatus.ERASED):
        raise Conflict(f"participant {participant_id} has finished the programme (stegvis participant end): a new link would let them join it again", field="participant")
    await session.execute(
        update(Invite)
        .where(Invite.participant_id == participant_id, Invite.used_at.is_(None), Invite.expires_at > now)
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    invite, code = await repo.create_invite(session, participant_id, timedelta(days=invite_days), now=now)
    return InviteIssued(participant_id, code, invite.expires_at)



async def set_gender(session: AsyncSession, actor: Actor, *, participant_id: int, gender: Gender | None, now: datetime) -> ParticipantEdited:
    """The participant's gender for the funders' statistics (None: not given). Never asked in the chat.

    The change is an event that names the field, not the value: the events table cannot be
    changed, and a gender cleared here should be gone, not kept in the history.
    """
    participant = await session.get(Participant, participant_id)
    if participant is None:
        raise NotFound(f"no participant with id {participant_id} (see: stegvis participant list)", field="participant")
    participant.gender = gender.value if gender is not None else None
    participant.updated_at = now
    await session.flush()
    await repo.append_event(session, "participant_edited", participant_id, {"fields": ["gender"]}, occurred_at=now)
    return ParticipantEdited(participant.id, participant.name, participant.gender)
