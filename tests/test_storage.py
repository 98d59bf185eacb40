"""Storage behaviour on SQLite and PostgreSQL: schema, invites, consent, conversations, events."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import delete, event, func, select, text, update
from sqlalchemy.exc import IntegrityError

from flows.engine import IDLE, Run, State
from storage import repositories as repo
from storage.database import HEAD_REVISION, MIGRATIONS, Database
from storage.models import (
    Base,
    Caseworker,
    ConsentAnswer,
    Event,
    Participant,
    ParticipantStatus,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
FOURTEEN_DAYS = timedelta(days=14)
CHAT = 100_200_300_400  # larger than 32 bits, as real Telegram ids can be


async def _new_participant(database: Database, name: str = "Amina") -> int:
    async with database.sessions.begin() as session:
        caseworker = await repo.add_caseworker(session, "Karin", "karin@example.se", now=NOW)
        participant = await repo.add_participant(session, name, caseworker.id, language="so", now=NOW)
        return participant.id


async def _new_invite(database: Database, participant_id: int) -> str:
    async with database.sessions.begin() as session:
        invite, code = await repo.create_invite(session, participant_id, FOURTEEN_DAYS, now=NOW)
        assert invite.code_hash == repo.invite_hash(code) != code  # only the hash is stored
        return code


async def _redeem(database: Database, code: str, chat_id: int, now: datetime) -> Participant:
    async with database.sessions.begin() as session:
        invite = await repo.find_invite(session, code)
        assert invite is not None
        return await repo.redeem_invite(session, invite, chat_id, now=now)


# Schema


async def test_upgrade_twice_is_harmless(database: Database) -> None:
    participant_id = await _new_participant(database)

    await database.upgrade()

    async with database.sessions() as session:
        assert await repo.get_participant(session, participant_id) is not None
        version = await session.scalar(text("SELECT version_num FROM alembic_version"))
    newest = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert version == newest == HEAD_REVISION


async def test_migrated_schema_matches_models(database: Database) -> None:
    async with database.engine.connect() as conn:
        diffs = await conn.run_sync(
            lambda sync_conn: compare_metadata(MigrationContext.configure(sync_conn), Base.metadata)
        )
    assert diffs == []


# Timestamps


async def test_timestamps_come_back_aware_utc(database: Database) -> None:
    participant_id = await _new_participant(database)
    stockholm_summer = datetime(2025, 6, 1, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    async with database.sessions.begin() as session:
        await repo.append_event(session, "started", participant_id, occurred_at=stockholm_summer)

    async with database.sessions() as session:
        (stored,) = await repo.list_events(session, participant_id)
        caseworker = await session.scalar(select(Caseworker))
    assert stored.occurred_at == stockholm_summer
    assert stored.occurred_at.utcoffset() == timedelta(0)
    assert stored.occurred_at.hour == 7
    assert caseworker is not None and caseworker.created_at == NOW
    assert caseworker.created_at.utcoffset() == timedelta(0)


async def test_naive_now_is_refused(database: Database) -> None:
    participant_id = await _new_participant(database)
    async with database.sessions() as session:
        with pytest.raises(ValueError, match="naive"):
            await repo.create_invite(
                session, participant_id, FOURTEEN_DAYS, now=datetime(2025, 3, 1)
            )


# Participants


async def test_list_participants_by_caseworker_in_id_order(database: Database) -> None:
    async with database.sessions.begin() as session:
        karin = await repo.add_caseworker(session, "Karin", now=NOW)
        olle = await repo.add_caseworker(session, "Olle", now=NOW)
        first = await repo.add_participant(session, "Amina", karin.id, now=NOW)
        await repo.add_participant(session, "Dawit", olle.id, now=NOW)
        third = await repo.add_participant(session, "Farah", karin.id, now=NOW)

    async with database.sessions() as session:
        everyone = await repo.list_participants(session)
        karins = await repo.list_participants(session, caseworker_id=karin.id)
    assert [p.name for p in everyone] == ["Amina", "Dawit", "Farah"]
    assert [p.id for p in karins] == [first.id, third.id]
    assert {(p.status, p.created_at, p.updated_at) for p in everyone} == {(ParticipantStatus.INVITED, NOW, NOW)}


# Invites


async def test_invite_code_is_a_43_character_urlsafe_token(database: Database) -> None:
    participant_id = await _new_participant(database)
    codes = {await _new_invite(database, participant_id) for _ in range(3)}

    assert len(codes) == 3
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", code) for code in codes)


async def test_invite_expires_fourteen_days_after_creation(database: Database) -> None:
    participant_id = await _new_participant(database)
    code = await _new_invite(database, participant_id)

    async with database.sessions() as session:
        invite = await repo.find_invite(session, code)
    assert invite is not None
    assert invite.created_at == NOW
    assert invite.expires_at == datetime(2025, 3, 15, 12, 0, tzinfo=timezone.utc)
    assert invite.used_at is None


async def test_redeem_links_chat_and_uses_up_invite(database: Database) -> None:
    participant_id = await _new_participant(database)
    code = await _new_invite(database, participant_id)
    last_moment = NOW + FOURTEEN_DAYS - timedelta(microseconds=1)

    participant = await _redeem(database, code, CHAT, now=last_moment)

    assert participant.id == participant_id
    async with database.sessions() as session:
        invite = await repo.find_invite(session, code)
        by_chat = await session.scalar(select(Participant).where(Participant.telegram_chat_id == CHAT))
    assert invite is not None and invite.used_at == last_moment
    assert by_chat is not None and by_chat.id == participant_id


async def test_redeem_expired_invite_is_refused(database: Database) -> None:
    participant_id = await _new_participant(database)
    code = await _new_invite(database, participant_id)

    with pytest.raises(repo.InviteNotUsable) as refused:
        await _redeem(database, code, CHAT, now=NOW + FOURTEEN_DAYS)

    assert refused.value.reason == "expired"
    async with database.sessions() as session:
        assert await session.scalar(select(Participant).where(Participant.telegram_chat_id == CHAT)) is None


async def test_redeem_used_invite_is_refused(database: Database) -> None:
    participant_id = await _new_participant(database)
    code = await _new_invite(database, participant_id)
    await _redeem(database, code, CHAT, now=NOW)

    with pytest.raises(repo.InviteNotUsable) as refused:
        await _redeem(database, code, CHAT + 1, now=NOW)

    assert refused.value.reason == "used"


async def test_redeem_of_invite_used_meanwhile_in_another_session_is_refused(
    database: Database,
) -> None:
    participant_id = await _new_participant(database)
    code = await _new_invite(database, participant_id)
    async with database.sessions() as late:
        stale = await repo.find_invite(late, code)
        assert stale is not None
        await _redeem(database, code, CHAT, now=NOW)

        with pytest.raises(repo.InviteNotUsable) as refused:
            await repo.redeem_invite(late, stale, CHAT + 1, now=NOW)

    assert refused.value.reason == "used"
    async with database.sessions() as session:
        participant = await repo.get_participant(session, participant_id)
    assert participant is not None and participant.telegram_chat_id == CHAT


async def test_redeem_with_chat_of_another_participant_is_refused(database: Database) -> None:
    first = await _new_participant(database, "Amina")
    second = await _new_participant(database, "Dawit")
    await _redeem(database, await _new_invite(database, first), CHAT, now=NOW)
    code = await _new_invite(database, second)

    with pytest.raises(repo.InviteNotUsable) as refused:
        await _redeem(database, code, CHAT, now=NOW)

    assert refused.value.reason == "chat_taken"
    async with database.sessions() as session:
        invite = await repo.find_invite(session, code)
    assert invite is not None and invite.used_at is None


@pytest.mark.parametrize(
    "code",
    ["", "a" * 65, "abc def", "abc/def", "../../etc", "kod'; DROP TABLE invites;--", "åäö", "a\n"],
)
async def test_find_invite_rejects_malformed_code_without_a_query(
    database: Database, code: str
) -> None:
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with database.sessions() as session:
            assert await repo.find_invite(session, code) is None
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", count)
    assert statements == []


async def test_find_invite_returns_none_for_unknown_code(database: Database) -> None:
    async with database.sessions() as session:
        assert await repo.find_invite(session, "A" * 43) is None


# Consent


async def test_consent_is_recorded_with_notice_version(database: Database) -> None:
    participant_id = await _new_participant(database)
    async with database.sessions.begin() as session:
        await repo.record_consent(session, participant_id, "2025-01", ConsentAnswer.AGREED, now=NOW)
        await repo.record_consent(
            session, participant_id, "2025-02", ConsentAnswer.DECLINED, now=NOW + timedelta(days=1)
        )

    async with database.sessions() as session:
        latest = await repo.latest_consent(session, participant_id)
        nobody = await repo.latest_consent(session, participant_id + 1)
    assert latest is not None
    assert (latest.notice_version, latest.answer) == ("2025-02", ConsentAnswer.DECLINED)
    assert latest.recorded_at == NOW + timedelta(days=1)
    assert nobody is None


# Conversations


LANGUAGE = State((Run("onboarding", 1, "language", {"n": 1}),))
# A reminder's question on top of the onboarding question it interrupted, bottom first.
INTERRUPTED = State((Run("onboarding", 1, "consent", {"n": 2, "lang": "ti"}), Run("reminder", 1, "answer", {"ref": "appointment:7"})))


async def test_conversation_save_and_load_round_trip_including_update(database: Database) -> None:
    participant_id = await _new_participant(database)
    async with database.sessions() as session:
        assert await repo.load_conversation(session, participant_id) is None

    async with database.sessions.begin() as session:
        await repo.save_conversation(session, participant_id, LANGUAGE.flow, LANGUAGE.step, LANGUAGE.to_dict(), now=NOW)
    later = NOW + timedelta(minutes=3)
    async with database.sessions.begin() as session:
        await repo.save_conversation(session, participant_id, INTERRUPTED.flow, INTERRUPTED.step, INTERRUPTED.to_dict(), now=later)

    async with database.sessions() as session:
        conversation = await repo.load_conversation(session, participant_id)
    assert conversation is not None
    assert (conversation.flow, conversation.step) == ("reminder", "answer")
    assert conversation.data == {
        "runs": [
            {"flow": "onboarding", "version": 1, "step": "consent", "data": {"n": 2, "lang": "ti"}},
            {"flow": "reminder", "version": 1, "step": "answer", "data": {"ref": "appointment:7"}},
        ]
    }
    assert State.from_dict(conversation.data) == INTERRUPTED
    assert conversation.updated_at == later
    assert conversation.updated_at.utcoffset() == timedelta(0)


async def test_an_idle_conversation_is_an_empty_run_stack(database: Database) -> None:
    participant_id = await _new_participant(database)
    async with database.sessions.begin() as session:
        await repo.save_conversation(session, participant_id, IDLE.flow, IDLE.step, IDLE.to_dict(), now=NOW)

    async with database.sessions() as session:
        conversation = await repo.load_conversation(session, participant_id)
    assert conversation is not None
    assert (conversation.flow, conversation.step, conversation.data) == (None, None, {"runs": []})
    assert State.from_dict(conversation.data) == IDLE


async def test_save_conversation_refreshes_one_loaded_in_the_same_session(
    database: Database,
) -> None:
    participant_id = await _new_participant(database)
    async with database.sessions.begin() as session:
        await repo.save_conversation(session, participant_id, LANGUAGE.flow, LANGUAGE.step, LANGUAGE.to_dict(), now=NOW)

    later = NOW + timedelta(seconds=5)
    async with database.sessions.begin() as session:
        loaded = await repo.load_conversation(session, participant_id)
        await repo.save_conversation(session, participant_id, INTERRUPTED.flow, INTERRUPTED.step, INTERRUPTED.to_dict(), now=later)
        again = await repo.load_conversation(session, participant_id)

    assert again is loaded
    assert loaded is not None and (loaded.flow, loaded.step, loaded.data, loaded.updated_at) == (
        "reminder",
        "answer",
        INTERRUPTED.to_dict(),
        later,
    )


async def test_dated_conversations_keep_a_state_stored_after_them(database: Database) -> None:
    # The sender writes the state as of when its message went out; a participant who answered
    # after that (a newer updated_at) keeps their progress, one who did not gets the sender's.
    answered = await _new_participant(database, "Amina")
    silent = await _new_participant(database, "Dawit")
    newcomer = await _new_participant(database, "Farah")
    async with database.sessions.begin() as session:
        await repo.save_conversation(session, answered, LANGUAGE.flow, LANGUAGE.step, LANGUAGE.to_dict(), now=NOW + timedelta(seconds=2))
        await repo.save_conversation(session, silent, IDLE.flow, IDLE.step, IDLE.to_dict(), now=NOW - timedelta(minutes=1))

    sent_at = NOW + timedelta(seconds=1)
    reminder = State((Run("reminder", 1, "answer", {"ref": "appointment:7"}),))
    async with database.sessions.begin() as session:
        await repo.save_conversations_dated(
            session, {pid: (reminder.flow, reminder.step, reminder.to_dict(), sent_at) for pid in (answered, silent, newcomer)}
        )

    async with database.sessions() as session:
        stored = {pid: await repo.load_conversation(session, pid) for pid in (answered, silent, newcomer)}
    assert {pid: (c.step, c.data, c.updated_at) for pid, c in stored.items() if c is not None} == {
        answered: ("language", LANGUAGE.to_dict(), NOW + timedelta(seconds=2)),
        silent: ("answer", reminder.to_dict(), sent_at),
        newcomer: ("answer", reminder.to_dict(), sent_at),
    }


# Events


async def test_events_are_listed_in_the_order_they_happened(database: Database) -> None:
    participant_id = await _new_participant(database)
    async with database.sessions.begin() as session:
        later = NOW + timedelta(minutes=1)
        await repo.append_event(session, "b", participant_id, occurred_at=later)
        await repo.append_event(session, "a", participant_id, {"k": "v"}, "f", "s", occurred_at=NOW)
        await repo.append_event(session, "c", participant_id, occurred_at=later)

    async with database.sessions() as session:
        events = await repo.list_events(session)
    assert [e.type for e in events] == ["a", "b", "c"]
    assert (events[0].payload, events[0].flow, events[0].step) == ({"k": "v"}, "f", "s")
    assert events[1].payload == {}


async def test_events_are_filtered_by_participant_type_and_since(database: Database) -> None:
    amina = await _new_participant(database, "Amina")
    dawit = await _new_participant(database, "Dawit")
    async with database.sessions.begin() as session:
        await repo.append_event(session, "started", amina, occurred_at=NOW)
        await repo.append_event(session, "answered", amina, occurred_at=NOW + timedelta(hours=1))
        await repo.append_event(session, "stopped", amina, occurred_at=NOW + timedelta(hours=2))
        await repo.append_event(session, "started", dawit, occurred_at=NOW + timedelta(hours=3))
        await repo.append_event(session, "reminder_sent", None, occurred_at=NOW)

    async with database.sessions() as session:
        aminas = await repo.list_events(session, participant_id=amina)
        starts = await repo.list_events(session, types=["started"])
        one_type = await repo.list_events(session, types="stopped")
        recent = await repo.list_events(session, amina, since=NOW + timedelta(hours=1))
        combined = await repo.list_events(
            session, amina, types={"started", "stopped"}, since=NOW + timedelta(minutes=1)
        )
    assert [e.type for e in aminas] == ["started", "answered", "stopped"]
    assert [e.participant_id for e in starts] == [amina, dawit]
    assert [e.type for e in one_type] == ["stopped"]
    assert [e.type for e in recent] == ["answered", "stopped"]
    assert [e.type for e in combined] == ["stopped"]


async def test_updating_an_event_is_refused_by_the_database(database: Database) -> None:
    participant_id = await _new_participant(database)
    async with database.sessions.begin() as session:
        await repo.append_event(session, "consent_given", participant_id, occurred_at=NOW)

    with pytest.raises(IntegrityError, match="events are append-only"):
        async with database.sessions.begin() as session:
            await session.execute(update(Event).values(type="consent_refused"))

    async with database.sessions() as session:
        (stored,) = await repo.list_events(session)
    assert stored.type == "consent_given"


async def test_deleting_events_is_allowed(database: Database) -> None:
    amina = await _new_participant(database, "Amina")
    dawit = await _new_participant(database, "Dawit")
    async with database.sessions.begin() as session:
        await repo.append_event(session, "started", amina, occurred_at=NOW)
        await repo.append_event(session, "started", dawit, occurred_at=NOW)

    async with database.sessions.begin() as session:
        await session.execute(delete(Event).where(Event.participant_id == amina))

    async with database.sessions() as session:
        remaining = await repo.list_events(session)
    assert [e.participant_id for e in remaining] == [dawit]


# Database set-up (SQLite only)


async def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(
    sqlite_database: Database,
) -> None:
    async with sqlite_database.engine.connect() as conn:
        pragmas = {
            name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    # synchronous=NORMAL is 1.
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 1,
        "foreign_keys": 1,
        "busy_timeout": 15_000,
    }


async def test_sqlite_foreign_keys_are_enforced(sqlite_database: Database) -> None:
    with pytest.raises(IntegrityError):
        async with sqlite_database.sessions.begin() as session:
            await repo.add_participant(session, "Amina", caseworker_id=999, now=NOW)


async def test_sqlite_file_folder_is_created_and_plain_url_accepted(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "data" / "stegvis.db"
    database = Database(f"sqlite:///{path}")
    try:
        await database.upgrade()
        async with database.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Participant)) == 0
    finally:
        await database.dispose()
    assert database.dialect == "sqlite"
    assert database.engine.url.drivername == "sqlite+aiosqlite"
    assert path.exists()


@pytest.mark.parametrize("url", ["postgresql://u:p@db/stegvis", "postgres://u:p@db/stegvis"])
def test_plain_postgresql_url_uses_asyncpg(url: str) -> None:
    database = Database(url)
    assert database.engine.url.drivername == "postgresql+asyncpg"
    assert database.dialect == "postgresql"


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "",
        "mysql://stegvis:secret@db/stegvis",
        "postgresql+psycopg2://u:secret@h/db",
        "postgresql://u:secret@h:port/db",
    ],
)
def test_unusable_url_raises_value_error_naming_the_setting(url: str) -> None:
    with pytest.raises(ValueError, match="STEGVIS_DATABASE_URL") as raised:
        Database(url)
    message = str(raised.value)
    assert "\n" not in message and "secret" not in message
