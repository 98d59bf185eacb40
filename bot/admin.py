"""What caseworkers and administrators do from the command line, as plain functions.

The CLI prints their results; the demo and the tests call them directly.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.config import Settings
from locales import parse_language
from storage import repositories as repo
from storage.database import Database


class AdminError(Exception):
    """A request that cannot be carried out; str() says why in one line."""


async def add_caseworker(database: Database, name: str, email: str | None = None) -> dict[str, Any]:
    name = _required(name, "--name")
    async with database.sessions() as session:
        caseworker = await repo.add_caseworker(session, name, email or None)
        await session.commit()
        return {"caseworker_id": caseworker.id, "name": caseworker.name, "email": caseworker.email}


async def add_participant(database: Database, settings: Settings, name: str, caseworker_id: int, language: str | None = None, bot_username: str | None = None) -> dict[str, Any]:
    name = _required(name, "--name")
    try:
        code = parse_language(language).code if language else None
    except ValueError as error:
        raise AdminError(f"--language: {error}") from None
    async with database.sessions() as session:
        if await repo.get_caseworker(session, caseworker_id) is None:
            raise AdminError(f"--caseworker: no caseworker with id {caseworker_id} (see: stegvis caseworker add)")
        participant = await repo.add_participant(session, name, caseworker_id, code)
        invite = await repo.create_invite(session, participant.id, timedelta(days=settings.invite_days))
        await session.commit()
        return {
            "participant_id": participant.id,
            "name": participant.name,
            "caseworker_id": caseworker_id,
            "language": code,
            "invite_code": invite.code,
            "invite_expires_at": invite.expires_at.isoformat(),
            "link": invite_link(bot_username, invite.code),
        }


async def list_participants(database: Database) -> list[dict[str, Any]]:
    async with database.sessions() as session:
        return [
            {
                "participant_id": p.id,
                "name": p.name,
                "caseworker_id": p.caseworker_id,
                "language": p.language,
                "status": str(p.status.value if hasattr(p.status, "value") else p.status),
                "connected": p.telegram_chat_id is not None,
            }
            for p in await repo.list_participants(session)
        ]


def invite_link(bot_username: str | None, code: str) -> str | None:
    return f"https://t.me/{bot_username}?start={code}" if bot_username else None


def _required(value: str, option: str) -> str:
    value = (value or "").strip()
    if not value:
        raise AdminError(f"{option} must not be empty")
    if len(value) > 200:
        raise AdminError(f"{option} is longer than 200 characters")
    return value
