"""The hot path's store (storage/writer.py): reads by chat, units of work, group commit, failures, shutdown.

Both stores run on a real database: `SQLiteStore` (its own thread and sqlite3 connection) on a
SQLite file, `EngineStore` on PostgreSQL. What a store wrote is read back through SQLAlchemy, as
the rest of Stegvis reads it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text, update

from flows.engine import IDLE, Run, State
from storage import repositories as repo
from storage.database import SQLITE_BUSY_TIMEOUT_MS, Database
from storage.models import (
    Appointment,
    AppointmentStatus,
    ConsentAnswer,
    ConsentRecord,
    Conversation,
    Event,
    Participant,
    ParticipantStatus,
)
from storage.writer import Changes, CommitFailed, EngineStore, ParticipantRow, SQLiteStore, Store, apply_changes, participants_by_id

NOW = datetime(2029, 6, 1, 9, 30, 15, 123456, tzinfo=timezone.utc)
# An update at 14:05:01.000042 Stockholm summer time: stored as UTC, read back equal.
LATER = datetime(2029, 6, 1, 14, 5, 1, 42, tzinfo=timezone(timedelta(hours=2)))
CHAT = 100_200_300_400  # more than 32 bits, as Telegram's ids can be
NO_ONE = 999_999  # no participant has this id
ASKING = State((Run("onboarding", 1, "consent", {"language": "so"}),))
INTERRUPTED = State((Run("onboarding", 1, "consent", {"language": "so"}), Run("reminder", 1, "answer", {"ref": "7v1"})))


def _conversation(state: State) -> tuple[str | None, str | None, dict[str, Any]]:
    return state.flow, state.step, state.to_dict()


async def _participants(database: Database, count: int, *, with_chats: bool = True) -> list[int]:
    """Participants 1..count of one caseworker, invited at NOW; with chats CHAT+1, CHAT+2, ..."""
    async with database.sessions.begin() as session:
        caseworker = await repo.add_caseworker(session, "Karin", now=NOW)
        ids = []
        for n in range(1, count + 1):
            participant = await repo.add_participant(session, f"P{n}", caseworker.id, "so", now=NOW)
            if with_chats:
                participant.telegram_chat_id = CHAT + n
            ids.append(participant.id)
    return ids


async def _appointment(database: Database, participant_id: int) -> int:
    async with database.sessions.begin() as session:
        appointment = Appointment(
            participant_id=participant_id, starts_at=NOW + timedelta(days=3), place="Nygatan 19", version=1,
            status=AppointmentStatus.BOOKED, created_at=NOW, updated_at=NOW,
        )
        session.add(appointment)
        await session.flush()
        return appointment.id


def _bad_appointment(now: datetime) -> Any:
    """A feature's statement that breaks a foreign key: an appointment for nobody."""
    return insert(Appointment).values(
        participant_id=NO_ONE, starts_at=now + timedelta(days=1), place="x", version=1, status=AppointmentStatus.BOOKED, created_at=now, updated_at=now
    )


async def _events(database: Database) -> list[tuple[Any, ...]]:
    async with database.sessions() as session:
        rows = await session.scalars(select(Event).order_by(Event.id))
        return [(e.type, e.participant_id, e.occurred_at, e.payload, e.flow, e.step) for e in rows]


async def _conversations(database: Database) -> dict[int, tuple[Any, ...]]:
    async with database.sessions() as session:
        return {c.participant_id: (c.flow, c.step, c.data, c.updated_at) for c in await session.scalars(select(Conversation))}


async def _count(database: Database, model: type) -> int:
    async with database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
async def store(database: Database) -> AsyncIterator[Store]:
    """The store Stegvis uses for this database: SQLite's own thread, or the async engine (PostgreSQL)."""
    chosen: Store = SQLiteStore(database.path) if database.dialect == "sqlite" else EngineStore(database.engine)
    try:
        yield chosen
    finally:
        await chosen.close()


# Reading


async def test_a_participant_is_read_by_chat_id_with_their_conversation(database: Database, store: Store) -> None:
    amina, dawit = await _participants(database, 2)
    async with database.sessions.begin() as session:
        await repo.save_conversation(session, amina, ASKING.flow, ASKING.step, ASKING.to_dict(), now=NOW)

    assert await store.participant_by_chat(CHAT + 1) == ParticipantRow(amina, "P1", 1, "so", ParticipantStatus.INVITED, CHAT + 1, ASKING.to_dict())
    # No conversation stored yet: None, not an empty one.
    assert await store.participant_by_chat(CHAT + 2) == ParticipantRow(dawit, "P2", 1, "so", ParticipantStatus.INVITED, CHAT + 2, None)
    assert await store.participant_by_chat(CHAT + 3) is None


async def test_a_features_read_goes_through_fetch(database: Database, store: Store) -> None:
    (amina,) = await _participants(database, 1)
    appointment = await _appointment(database, amina)

    rows = await store.fetch(select(Appointment.id, Appointment.status, Appointment.starts_at).where(Appointment.participant_id == amina))

    assert [tuple(row) for row in rows] == [(appointment, "booked", NOW + timedelta(days=3))]
    assert rows[0].starts_at.utcoffset() == timedelta(0)


# Writing one unit of work


async def test_a_unit_of_work_reads_back_exactly_through_sqlalchemy(database: Database, store: Store) -> None:
    amina, dawit = await _participants(database, 2)
    appointment = await _appointment(database, amina)
    changes = Changes(amina, LATER)
    payload = {"appointment_id": appointment, "version": 1, "answer": "coming", "text": "Jag kommer – tack! مرحبا", "nested": {"list": [1, 2.5, None, True]}}
    changes.event("appointment_answer", payload, flow="reminder", step="answer")
    changes.event("flow_completed", flow="reminder")
    changes.set_participant(language="ti", status=ParticipantStatus.ACTIVE)
    changes.conversation = _conversation(INTERRUPTED)
    changes.statements.append(update(Appointment).where(Appointment.id == appointment).values(answer="coming", answered_at=LATER, updated_at=LATER))
    changes.statements.append(insert(ConsentRecord).values(participant_id=amina, notice_version="2025-01", answer=ConsentAnswer.AGREED, recorded_at=LATER))

    await store.apply(changes)

    assert await _events(database) == [
        ("appointment_answer", amina, LATER, payload, "reminder", "answer"),
        ("flow_completed", amina, LATER, {}, "reminder", None),
    ]
    async with database.sessions() as session:
        participant = await session.get(Participant, amina)
        other = await session.get(Participant, dawit)
        booked = await session.get(Appointment, appointment)
        consent = await repo.latest_consent(session, amina)
        event_times = list(await session.scalars(select(Event.occurred_at)))
    assert participant is not None and (participant.language, participant.status, participant.updated_at) == ("ti", ParticipantStatus.ACTIVE, LATER)
    assert other is not None and (other.language, other.status, other.updated_at) == ("so", ParticipantStatus.INVITED, NOW)
    assert booked is not None and (booked.answer, booked.answered_at, booked.updated_at) == ("coming", LATER, LATER)
    assert consent is not None and (consent.notice_version, consent.answer, consent.recorded_at) == ("2025-01", ConsentAnswer.AGREED, LATER)
    assert await _conversations(database) == {amina: ("reminder", "answer", INTERRUPTED.to_dict(), LATER)}
    # Aware, in UTC, on both backends.
    assert {moment.utcoffset() for moment in [*event_times, participant.updated_at, booked.answered_at, consent.recorded_at]} == {timedelta(0)}
    # The store's next read sees what it committed.
    row = await store.participant_by_chat(CHAT + 1)
    assert row is not None and (row.language, row.status, row.conversation) == ("ti", ParticipantStatus.ACTIVE, INTERRUPTED.to_dict())


async def test_a_second_unit_updates_the_stored_conversation_and_one_column(database: Database, store: Store) -> None:
    (amina,) = await _participants(database, 1)
    first = Changes(amina, NOW)
    first.conversation = _conversation(ASKING)
    await store.apply(first)

    second = Changes(amina, LATER)
    second.conversation = _conversation(IDLE)
    second.set_participant(status=ParticipantStatus.STOPPED)
    await store.apply(second)

    assert await _conversations(database) == {amina: (None, None, {"runs": []}, LATER)}
    async with database.sessions() as session:
        participant = await session.get(Participant, amina)
    assert participant is not None and (participant.language, participant.status, participant.updated_at) == ("so", ParticipantStatus.STOPPED, LATER)
    assert await _events(database) == []


async def test_a_unit_with_a_naive_time_fails_and_writes_nothing(database: Database, store: Store) -> None:
    (amina,) = await _participants(database, 1)
    changes = Changes(amina, datetime(2029, 6, 1, 12, 0))
    changes.event("started")
    changes.conversation = _conversation(ASKING)

    with pytest.raises(CommitFailed, match="naive datetime"):
        await store.apply(changes)

    assert (await _events(database), await _conversations(database)) == ([], {})


def test_a_unit_refuses_participant_columns_it_may_not_change() -> None:
    changes = Changes(1, NOW)
    assert changes.empty
    with pytest.raises(ValueError, match=r"cannot change the participant's \['name', 'telegram_chat_id'\]"):
        changes.set_participant(name="X", telegram_chat_id=5, status=ParticipantStatus.STOPPED)
    assert changes.participant == {} and changes.empty
    changes.set_participant(status=ParticipantStatus.STOPPED)
    assert not changes.empty


async def test_apply_changes_writes_in_the_callers_transaction(database: Database) -> None:
    (amina,) = await _participants(database, 1)
    changes = Changes(amina, LATER)
    changes.event("message_sent", {"outbox_id": 3})
    changes.conversation = _conversation(ASKING)
    changes.set_participant(status=ParticipantStatus.UNREACHABLE)

    async with database.sessions() as session:
        await apply_changes(session, changes)
        await session.rollback()
    assert (await _events(database), await _conversations(database)) == ([], {})

    async with database.sessions() as session:
        await apply_changes(session, changes)
        await session.commit()
        read = await participants_by_id(session, [amina, amina, NO_ONE])
    assert read == {amina: ParticipantRow(amina, "P1", 1, "so", ParticipantStatus.UNREACHABLE, CHAT + 1, ASKING.to_dict())}
    assert await _events(database) == [("message_sent", amina, LATER, {"outbox_id": 3}, None, None)]


# Many units at once


def _numbered(participant_ids: list[int], count: int) -> list[Changes]:
    """Unit i: an event {"n": i} and the state naming i, for participant i mod len(participant_ids)."""
    units = []
    for n in range(count):
        unit = Changes(participant_ids[n % len(participant_ids)], LATER + timedelta(microseconds=n))
        unit.event("answered", {"n": n})
        unit.conversation = ("weekly", "mood", State((Run("weekly", 1, "mood", {"n": n}),)).to_dict())
        units.append(unit)
    return units


async def test_many_units_from_concurrent_tasks_are_all_committed_in_order(database: Database, store: Store) -> None:
    participant_ids = await _participants(database, 5)
    units = _numbered(participant_ids, 50)

    await asyncio.gather(*(store.apply(unit) for unit in units))

    events = await _events(database)
    assert sorted(payload["n"] for _type, _pid, _at, payload, _flow, _step in events) == list(range(50))
    assert all((pid, at) == (units[payload["n"]].participant_id, units[payload["n"]].now) for _type, pid, at, payload, _flow, _step in events)
    stored = {pid: data["runs"][0]["data"]["n"] for pid, (_flow, _step, data, _at) in (await _conversations(database)).items()}
    assert sorted(stored) == participant_ids
    assert all(units[n].participant_id == pid for pid, n in stored.items())
    if isinstance(store, SQLiteStore):
        # One thread writes the units in the order they were handed in, so each participant keeps
        # the state of their last unit (EngineStore's transactions run side by side).
        assert stored == {pid: 45 + index for index, pid in enumerate(participant_ids)}
        assert 1 <= store.commits < len(units)  # grouped: fewer commits than units


@pytest.fixture
def write_lock(database: Database) -> Any:
    """Take SQLite's write lock from another connection, as another process's transaction would."""
    held: list[sqlite3.Connection] = []

    def take() -> sqlite3.Connection:
        other = sqlite3.connect(database.path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        held.append(other)
        return other

    yield take
    for other in held:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()


async def test_one_bad_unit_fails_for_its_caller_only_and_the_rest_of_its_group_is_committed(database: Database, store: Store, write_lock: Any) -> None:
    participant_ids = await _participants(database, 3)
    units = _numbered(participant_ids, 20)
    # Unit 1 breaks a foreign key in a feature's statement; unit 7 is for a participant who does
    # not exist. Both also carry an event and a state, which must not be written either.
    units[1].statements.append(_bad_appointment(LATER))
    units[7] = Changes(NO_ONE, LATER)
    units[7].event("answered", {"n": 7})
    units[7].conversation = _conversation(ASKING)
    other = None
    if isinstance(store, SQLiteStore):
        await store.participant_by_chat(CHAT)  # the thread is up
        # Held while every unit is handed in: the thread takes the first unit(s), waits for the
        # lock (well within its busy timeout), and then writes all the others as one group.
        other = write_lock()

    tasks = [asyncio.create_task(store.apply(unit)) for unit in units]
    await asyncio.sleep(0)  # every task has handed its unit in
    if other is not None:
        other.execute("COMMIT")
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)

    failed = {n: outcome for n, outcome in enumerate(outcomes) if outcome is not None}
    assert sorted(failed) == [1, 7] and all(isinstance(error, CommitFailed) for error in failed.values()), outcomes
    assert "FOREIGN KEY" in str(failed[1]).upper() and "IntegrityError" in str(failed[1])
    assert "FOREIGN KEY" in str(failed[7]).upper() and "IntegrityError" in str(failed[7])
    events = await _events(database)
    assert sorted(payload["n"] for *_, payload, _flow, _step in events) == [n for n in range(20) if n not in (1, 7)]
    assert NO_ONE not in await _conversations(database)
    assert await _count(database, Appointment) == 0
    if isinstance(store, SQLiteStore):
        # The bad units were in a group with good ones: at most two groups for twenty units.
        assert store.commits <= 2


# SQLite: a locked database, and the thread


async def test_a_database_locked_beyond_the_busy_timeout_fails_the_unit_and_writes_none_of_it(sqlite_database: Database) -> None:
    (amina,) = await _participants(sqlite_database, 1)
    appointment = await _appointment(sqlite_database, amina)
    store = SQLiteStore(sqlite_database.path, busy_timeout_ms=50)
    other = sqlite3.connect(sqlite_database.path, isolation_level=None)
    try:
        assert [tuple(row) for row in await store.fetch(text("PRAGMA busy_timeout"))] == [(50,)]
        changes = Changes(amina, LATER)
        changes.event("appointment_answer", {"answer": "coming"})
        changes.set_participant(status=ParticipantStatus.ACTIVE)
        changes.conversation = _conversation(ASKING)
        changes.statements.append(update(Appointment).where(Appointment.id == appointment).values(answer="coming", answered_at=LATER))

        other.execute("BEGIN IMMEDIATE")  # another process writes, and does not finish
        with pytest.raises(CommitFailed, match="OperationalError: database is locked"):
            await store.apply(changes)
        other.execute("ROLLBACK")

        assert store.commits == 0
        assert (await _events(sqlite_database), await _conversations(sqlite_database)) == ([], {})
        async with sqlite_database.sessions() as session:
            participant = await session.get(Participant, amina)
            booked = await session.get(Appointment, appointment)
        assert participant is not None and (participant.status, participant.updated_at) == (ParticipantStatus.INVITED, NOW)
        assert booked is not None and booked.answer is None
        # Once the lock is gone the same store writes again.
        await store.apply(changes)
        assert [(e[0], e[2]) for e in await _events(sqlite_database)] == [("appointment_answer", LATER)]
    finally:
        other.close()
        await store.close()


async def test_the_stores_connection_waits_15_seconds_with_wal_and_foreign_keys(sqlite_database: Database) -> None:
    store = SQLiteStore(sqlite_database.path)
    try:
        pragmas = {name: (await store.fetch(text(f"PRAGMA {name}")))[0][0] for name in ("busy_timeout", "journal_mode", "synchronous", "foreign_keys")}
    finally:
        await store.close()
    assert SQLITE_BUSY_TIMEOUT_MS == 15_000
    assert pragmas == {"busy_timeout": 15_000, "journal_mode": "wal", "synchronous": 1, "foreign_keys": 1}  # synchronous=NORMAL is 1


async def test_close_stops_the_thread_after_the_work_handed_in(sqlite_database: Database) -> None:
    (amina,) = await _participants(sqlite_database, 1)
    store = SQLiteStore(sqlite_database.path)
    await store.close()  # never started: nothing to stop
    store.start()
    thread = store._thread
    assert thread is not None and thread.is_alive() and thread.name == "stegvis-sqlite-writer"

    units = _numbered([amina], 5)
    pending = [asyncio.create_task(store.apply(unit)) for unit in units]
    await asyncio.sleep(0)  # handed in before close
    await store.close()

    assert not thread.is_alive() and store._thread is None
    assert await asyncio.gather(*pending) == [None] * 5
    assert len(await _events(sqlite_database)) == 5
    await store.close()  # twice is harmless
