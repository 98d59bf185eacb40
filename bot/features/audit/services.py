"""Reading the access log for the data protection officer: about one participant, or since a day.

Reading the log is itself an access (it says who looked at whom), so each read is recorded,
after it is read: the answer never contains its own row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import Actor, InvalidInput, NotFound
from bot.validation import local_datetime
from storage import access_log
from storage.access_log import AccessRow
from storage.models import Participant


@dataclass(frozen=True)
class AuditListing:
    participant_id: int | None
    since: date | None
    rows: tuple[AccessRow, ...]

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        return {
            "participant_id": self.participant_id, "since": self.since.isoformat() if self.since else None,
            "rows": [row.as_json(tz) for row in self.rows],
        }


async def audit(session: AsyncSession, actor: Actor, *, participant_id: int | None, since: date | None, tz: ZoneInfo, now: datetime) -> AuditListing:
    """The access log's rows about a participant (all of them, or from `since`), or every row from
    `since` (a local date: from its midnight). At least one of the two is needed."""
    if participant_id is None and since is None:
        raise InvalidInput("name a participant (--participant ID) or a first day (--since YYYY-MM-DD)")
    if since is not None and since > now.astimezone(tz).date():
        raise InvalidInput(f"{since.isoformat()} is in the future: nothing can have been seen since then", field="since")
    start = local_datetime(since, time(0), tz) if since is not None else None
    if participant_id is not None:
        rows = await access_log.rows_about(session, participant_id)
        if not rows and await session.get(Participant, participant_id) is None:
            raise NotFound(f"no participant with id {participant_id}, and nothing in the access log about that id", field="participant")
        if start is not None:
            rows = [row for row in rows if row.at >= start]
        shown: list[int] = [participant_id] if rows else []
    else:
        assert start is not None
        rows = await access_log.rows_since(session, start)
        shown = sorted({pid for row in rows for pid in row.participant_ids})
    detail = " ".join(part for part in (f"participant {participant_id}" if participant_id else "", f"since {since.isoformat()}" if since else "") if part)
    await access_log.record(session, actor, access_log.AUDIT, shown, now=now, detail=detail)
    return AuditListing(participant_id, since, tuple(rows))
