"""Migrations on databases the old code filled: 0003 carries every outbox row and conversation over (and back); 0004 adds the activities' tables; 0005 the roll call's and check-ins'.

The database is upgraded to 0002 only, filled the way the code of that time wrote its rows
(reminders keyed ``appointment:7:v2:1d``, notices ``appointment:7:v2:moved``, a conversation
with the question it interrupted nested under ``interrupted``), then upgraded to head through
the same migration lock Stegvis uses, and downgraded again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection, insert, select, text

from flows.engine import Run, State
from storage import outbox
from storage.database import HEAD_REVISION, MIGRATIONS, Database
from storage.models import Appointment, Base, Caseworker, Conversation, OutboxMessage, Participant, UTCDateTime
from storage.outbox import Planned, Recipient, Subject
from tests.conftest import backend

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
LATER = NOW + timedelta(days=3)
BIG_MESSAGE_ID = 9_000_000_000  # more than 32 bits

# The two tables 0003 changes, as revision 0002 has them; the types are the ones the old code
# wrote with, so timestamps are stored exactly as it stored them.
OLD = sa.MetaData()
OLD_OUTBOX = sa.Table(
    "outbox",
    OLD,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("idempotency_key", sa.String(128)),
    sa.Column("participant_id", sa.Integer),
    sa.Column("appointment_id", sa.Integer),
    sa.Column("kind", sa.String(32)),
    sa.Column("payload", sa.JSON),
    sa.Column("due_at", UTCDateTime),
    sa.Column("status", sa.String(16)),
    sa.Column("attempts", sa.Integer),
    sa.Column("claimed_by", sa.String(64)),
    sa.Column("claimed_at", UTCDateTime),
    sa.Column("sent_at", UTCDateTime),
    sa.Column("telegram_message_id", sa.BigInteger),
    sa.Column("last_error", sa.String(500)),
    sa.Column("created_at", UTCDateTime),
)
OLD_CONVERSATIONS = sa.Table(
    "conversations",
    OLD,
    sa.Column("participant_id", sa.Integer, primary_key=True),
    sa.Column("flow", sa.String(64)),
    sa.Column("step", sa.String(64)),
    sa.Column("data", sa.JSON),
    sa.Column("updated_at", UTCDateTime),
)
# Columns 0003 leaves as they are.
KEPT = ("id", "payload", "due_at", "status", "attempts", "claimed_by", "claimed_at", "sent_at", "telegram_message_id", "last_error", "created_at")


def _outbox_row(key: str, participant_id: int, appointment_id: int, kind: str, payload: dict[str, Any], **rest: Any) -> dict[str, Any]:
    row = {
        "idempotency_key": key, "participant_id": participant_id, "appointment_id": appointment_id, "kind": kind, "payload": payload,
        "due_at": LATER, "status": "pending", "attempts": 0, "claimed_by": None, "claimed_at": None, "sent_at": None,
        "telegram_message_id": None, "last_error": None, "created_at": NOW,
    }
    return {**row, **rest}


# As bot/appointments.py planned them before 0003, so with ids 1 to 6: appointment 7 (Amina's)
# moved once, so at version 2; appointment 12 (Dawit's) at version 10, then cancelled.
OLD_OUTBOX_ROWS = [
    _outbox_row("appointment:7:v1:3d", 1, 7, "reminder", {"lead": "3d", "immediate": False}, status="cancelled", last_error="withdrawn: the appointment moved or was cancelled"),
    _outbox_row(
        "appointment:7:v2:3d", 1, 7, "reminder", {"lead": "3d", "immediate": True},
        status="sent", attempts=1, claimed_by="host:42", claimed_at=NOW + timedelta(seconds=1), sent_at=NOW + timedelta(seconds=2), telegram_message_id=BIG_MESSAGE_ID,
    ),
    _outbox_row("appointment:7:v2:1d", 1, 7, "reminder", {"lead": "1d", "immediate": False}, due_at=LATER - timedelta(hours=1)),
    _outbox_row("appointment:7:v2:moved", 1, 7, "moved", {"previous_starts_at": "2026-11-24T09:30:00+00:00"}, due_at=NOW),
    _outbox_row("appointment:12:v10:2h", 2, 12, "reminder", {"lead": "2h", "immediate": False}, status="cancelled", last_error="withdrawn: the appointment moved or was cancelled"),
    _outbox_row("appointment:12:v10:cancelled", 2, 12, "cancelled", {}, status="failed", attempts=5, last_error="Forbidden: bot was blocked by the user"),
]

# (id, recipient participant, appointment, version, composer, slot) each old row must become.
CARRIED_OVER = [
    (1, 1, 7, 1, "appointment.reminder", "3d"),
    (2, 1, 7, 2, "appointment.reminder", "3d"),
    (3, 1, 7, 2, "appointment.reminder", "1d"),
    (4, 1, 7, 2, "appointment.moved", ""),
    (5, 2, 12, 10, "appointment.reminder", "2h"),
    (6, 2, 12, 10, "appointment.cancelled", ""),
]
NEW_KEYS = {
    1: "participant:1/appointment:7:v1/appointment.reminder/3d",
    2: "participant:1/appointment:7:v2/appointment.reminder/3d",
    3: "participant:1/appointment:7:v2/appointment.reminder/1d",
    4: "participant:1/appointment:7:v2/appointment.moved/",
    5: "participant:2/appointment:12:v10/appointment.reminder/2h",
    6: "participant:2/appointment:12:v10/appointment.cancelled/",
}

# As bot/conversation.py saved them before 0003: the flow started by a command kept the
# question it interrupted under "interrupted", which could itself hold one.
OLD_CONVERSATION_ROWS = [
    # Amina opened /language while her reminder's question waited.
    {"participant_id": 1, "flow": "language", "step": "pick", "data": {"interrupted": {"flow": "reminder", "step": "answer", "data": {"ref": "7v2"}}}},
    # Dawit is idle.
    {"participant_id": 2, "flow": None, "step": None, "data": {}},
    # Farah: onboarding's consent question, interrupted by a reminder, interrupted by /language.
    {
        "participant_id": 3, "flow": "language", "step": "pick",
        "data": {
            "variables": {"name": "Farah"},
            "interrupted": {
                "flow": "reminder", "step": "reason",
                "data": {"ref": "12v10", "answer": "cant_come", "interrupted": {"flow": "onboarding", "step": "consent", "data": {"language": "so"}}},
            },
        },
    },
    # Hodan is in onboarding, nothing interrupted.
    {"participant_id": 4, "flow": "onboarding", "step": "consent", "data": {"language": "ti"}},
]
RUN_STACKS = {
    1: State((Run("reminder", 1, "answer", {"ref": "7v2"}), Run("language", 1, "pick", {}))),
    2: State(()),
    3: State((
        Run("onboarding", 1, "consent", {"language": "so"}),
        Run("reminder", 1, "reason", {"ref": "12v10", "answer": "cant_come"}),
        Run("language", 1, "pick", {"variables": {"name": "Farah"}}),
    )),
    4: State((Run("onboarding", 1, "consent", {"language": "ti"}),)),
}


def _alembic(revision: str, direction: str = "upgrade") -> Callable[[Connection], None]:
    """Alembic's upgrade or downgrade to `revision`, as storage.database runs it: on the connection handed in."""

    def run(connection: Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        getattr(command, direction)(config, revision)

    return run


async def _migrate(database: Database, revision: str, direction: str = "upgrade") -> None:
    await database.with_migration_lock(_alembic(revision, direction))


async def _revision(database: Database) -> str | None:
    async with database.engine.connect() as conn:
        return (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).scalar()


@pytest.fixture(params=["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
async def old_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A database at revision 0002, filled the way the code of that time filled it."""
    async with backend(request.param, tmp_path, upgrade=False) as database:
        await _migrate(database, "0002")
        assert await _revision(database) == "0002"
        async with database.engine.begin() as conn:
            await conn.execute(insert(Caseworker), [{"id": 1, "name": "Karin", "email": None, "created_at": NOW}])
            await conn.execute(
                insert(Participant),
                [
                    {"id": pid, "name": name, "caseworker_id": 1, "language": "so", "telegram_chat_id": 1000 + pid, "status": "active", "created_at": NOW, "updated_at": NOW}
                    for pid, name in ((1, "Amina"), (2, "Dawit"), (3, "Farah"), (4, "Hodan"))
                ],
            )
            await conn.execute(
                insert(Appointment),
                [
                    {"id": 7, "participant_id": 1, "starts_at": LATER + timedelta(days=1), "place": "Nygatan 19", "title": None, "lead_times": None, "version": 2,
                     "status": "booked", "answer": None, "answered_at": None, "attended": None, "created_at": NOW, "updated_at": NOW},
                    {"id": 12, "participant_id": 2, "starts_at": LATER + timedelta(days=2), "place": "Storgatan 1", "title": "Samtal", "lead_times": "2h", "version": 10,
                     "status": "cancelled", "answer": None, "answered_at": None, "attended": None, "created_at": NOW, "updated_at": NOW},
                ],
            )
            await conn.execute(insert(OLD_OUTBOX), OLD_OUTBOX_ROWS)
            inserted = (await conn.execute(select(OLD_OUTBOX.c.id, OLD_OUTBOX.c.idempotency_key).order_by(OLD_OUTBOX.c.id))).all()
            assert [tuple(row) for row in inserted] == list(enumerate((row["idempotency_key"] for row in OLD_OUTBOX_ROWS), start=1))
            await conn.execute(insert(OLD_CONVERSATIONS), [{**row, "updated_at": NOW} for row in OLD_CONVERSATION_ROWS])
        yield database


async def _old_rows(database: Database) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    async with database.engine.connect() as conn:
        rows = (await conn.execute(select(OLD_OUTBOX).order_by(OLD_OUTBOX.c.id))).mappings().all()
        conversations = (await conn.execute(select(OLD_CONVERSATIONS).order_by(OLD_CONVERSATIONS.c.participant_id))).mappings().all()
    return [dict(row) for row in rows], [dict(row) for row in conversations]


async def _schema_differences(database: Database) -> list[Any]:
    async with database.engine.connect() as conn:
        return await conn.run_sync(lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata))


def _shape(connection: Connection) -> dict[str, Any]:
    """Every table's columns, keys and indexes as the database reports them; not their order (a
    column added back comes last) nor constraint names (PostgreSQL names an unnamed one itself)."""
    inspector = sa.inspect(connection)
    shape: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        shape[table] = {
            "columns": sorted((c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)),
            "primary key": inspector.get_pk_constraint(table)["constrained_columns"],
            "foreign keys": sorted((tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"])) for fk in inspector.get_foreign_keys(table)),
            "unique": sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
            "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(table)),
        }
    return shape


async def _schema_shape(database: Database) -> dict[str, Any]:
    async with database.engine.connect() as conn:
        return await conn.run_sync(_shape)


async def test_upgrade_carries_every_outbox_row_over_to_recipients_and_subjects(old_database: Database) -> None:
    before, _ = await _old_rows(old_database)

    await _migrate(old_database, "head")

    assert await _revision(old_database) == HEAD_REVISION
    async with old_database.sessions() as session:
        rows = list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    assert [
        (row.id, row.recipient_kind, row.recipient_id, row.recipient_address, row.channel, row.subject_kind, row.subject_id, row.subject_version, row.composer, row.slot)
        for row in rows
    ] == [(id, "participant", pid, None, "telegram", "appointment", aid, version, composer, slot) for id, pid, aid, version, composer, slot in CARRIED_OVER]
    assert {row.id: row.idempotency_key for row in rows} == NEW_KEYS
    for row in rows:
        assert row.idempotency_key == outbox.idempotency_key(
            Recipient.participant(row.recipient_id), Subject("appointment", row.subject_id, row.subject_version), row.composer, row.slot
        )
    # Everything else is as the old code left it, to the microsecond.
    assert [{name: getattr(row, name) for name in KEPT} for row in rows] == [{name: old[name] for name in KEPT} for old in before]
    assert rows[1].telegram_message_id == BIG_MESSAGE_ID and rows[1].sent_at == NOW + timedelta(seconds=2)


async def test_a_message_planned_before_the_upgrade_is_not_planned_again_after_it(old_database: Database) -> None:
    await _migrate(old_database, "head")

    # The new code plans appointment 7's 1-day reminder (version 2) and a new version's.
    again = Planned(Recipient.participant(1), "appointment.reminder", LATER, Subject("appointment", 7, 2), "1d", payload={"lead": "1d"})
    moved = Planned(Recipient.participant(1), "appointment.reminder", LATER, Subject("appointment", 7, 3), "1d", payload={"lead": "1d"})
    async with old_database.sessions() as session:
        assert await outbox.enqueue(session, again, now=NOW) is False
        assert await outbox.enqueue(session, moved, now=NOW) is True
        await session.commit()
        about = await outbox.messages_about(session, "appointment", [7, 12])
    # In due order: the notice now, the 1-day reminder, then the three due at LATER by id.
    assert {subject: [row.idempotency_key for row in rows] for subject, rows in about.items()} == {
        7: [NEW_KEYS[4], NEW_KEYS[3], NEW_KEYS[1], NEW_KEYS[2], "participant:1/appointment:7:v3/appointment.reminder/1d"],
        12: [NEW_KEYS[5], NEW_KEYS[6]],
    }


async def test_upgrade_turns_each_conversation_into_its_run_stack_bottom_first(old_database: Database) -> None:
    await _migrate(old_database, "head")

    async with old_database.sessions() as session:
        conversations = {c.participant_id: c for c in await session.scalars(select(Conversation))}
    assert {pid: State.from_dict(c.data) for pid, c in conversations.items()} == RUN_STACKS
    assert {pid: c.data for pid, c in conversations.items()} == {pid: state.to_dict() for pid, state in RUN_STACKS.items()}
    # flow and step still name the top run's; the time is the old one.
    assert {pid: (c.flow, c.step, c.updated_at) for pid, c in conversations.items()} == {
        row["participant_id"]: (row["flow"], row["step"], NOW) for row in OLD_CONVERSATION_ROWS
    }
    assert {pid: (state.flow, state.step) for pid, state in RUN_STACKS.items()} == {pid: (c.flow, c.step) for pid, c in conversations.items()}


async def test_downgrade_to_0002_gives_back_the_old_rows_and_schema(old_database: Database) -> None:
    before = await _old_rows(old_database)
    old_shape = await _schema_shape(old_database)

    await _migrate(old_database, "head")
    assert await _schema_differences(old_database) == []
    await _migrate(old_database, "0002", "downgrade")

    assert await _revision(old_database) == "0002"
    assert await _old_rows(old_database) == before
    assert await _schema_shape(old_database) == old_shape
    # And up again: the same rows as the first time, and a schema that matches the models.
    await _migrate(old_database, "head")
    assert await _schema_differences(old_database) == []
    async with old_database.sessions() as session:
        keys = {row.id: row.idempotency_key for row in await session.scalars(select(OutboxMessage))}
    assert keys == NEW_KEYS


# Migration 0004: the activities' four tables, on a database 0003 filled.

ACTIVITY_TABLES = {"activities", "activity_rules", "enrolments", "cancelled_sessions"}


@pytest.fixture(params=["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
async def database_at_0003(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A database at revision 0003 with a participant, an appointment and a reminder in the outbox."""
    async with backend(request.param, tmp_path, upgrade=False) as database:
        await _migrate(database, "0003")
        async with database.sessions() as session:
            # Core with the 0003 columns only (0006 added the caseworkers' Telegram columns).
            await session.execute(insert(Caseworker.__table__).values(id=1, name="Karin", email=None, created_at=NOW))
            # Core with the 0003 columns only: the model has columns 0003 does not.
            await session.execute(
                insert(Participant.__table__).values(id=1, name="Amina", caseworker_id=1, language="so", telegram_chat_id=1001, status="active", created_at=NOW, updated_at=NOW)
            )
            session.add(Appointment(id=7, participant_id=1, starts_at=LATER, place="Nygatan 19", version=1, status="booked", created_at=NOW, updated_at=NOW))
            await session.flush()
            reminder = Planned(Recipient.participant(1), "appointment.reminder", NOW, Subject("appointment", 7, 1), "1d", payload={"lead": "1d"})
            assert await outbox.enqueue(session, reminder, now=NOW)
            await session.commit()
        yield database


async def test_0004_adds_the_activity_tables_and_keeps_every_row(database_at_0003: Database) -> None:
    before, old_shape = await _kept_rows(database_at_0003), await _schema_shape(database_at_0003)
    assert not ACTIVITY_TABLES & old_shape.keys()

    await _migrate(database_at_0003, "0004")

    assert await _revision(database_at_0003) == "0004"
    assert await _kept_rows(database_at_0003) == before
    shape = await _schema_shape(database_at_0003)
    assert ACTIVITY_TABLES <= shape.keys()
    assert {name: old_shape[name] for name in old_shape} == {name: shape[name] for name in old_shape}
    await _migrate(database_at_0003, "head")
    assert await _schema_differences(database_at_0003) == []


async def test_0004_downgrades_to_0003_and_up_again(database_at_0003: Database) -> None:
    before, old_shape = await _kept_rows(database_at_0003), await _schema_shape(database_at_0003)
    await _migrate(database_at_0003, "0004")
    await _migrate(database_at_0003, "0003", "downgrade")
    assert await _revision(database_at_0003) == "0003"
    assert await _schema_shape(database_at_0003) == old_shape
    assert await _kept_rows(database_at_0003) == before
    await _migrate(database_at_0003, "head")
    assert await _schema_differences(database_at_0003) == []


# Migration 0005: leaders, attendance, check-ins and new nullable columns, on a database 0004 filled.

ROLL_CALL_TABLES = {"leaders", "leader_activities", "attendance", "checkins"}


async def test_0005_adds_roll_call_and_checkins_and_keeps_every_row(database_at_0003: Database) -> None:
    await _migrate(database_at_0003, "0004")
    before, old_shape = await _kept_rows(database_at_0003), await _schema_shape(database_at_0003)
    assert not ROLL_CALL_TABLES & old_shape.keys()

    await _migrate(database_at_0003, "0005")

    assert await _revision(database_at_0003) == "0005"
    assert await _kept_rows(database_at_0003) == before
    shape = await _schema_shape(database_at_0003)
    assert ROLL_CALL_TABLES <= shape.keys()
    assert {"gender", "checkin_weekday", "checkin_time"} <= {column[0] for column in shape["participants"]["columns"]}
    await _migrate(database_at_0003, "head")  # 0006 came after: the models match the newest
    assert await _schema_differences(database_at_0003) == []


async def test_0005_downgrades_to_0004_and_up_again(database_at_0003: Database) -> None:
    await _migrate(database_at_0003, "0004")
    before, old_shape = await _kept_rows(database_at_0003), await _schema_shape(database_at_0003)
    await _migrate(database_at_0003, "0005")
    await _migrate(database_at_0003, "0004", "downgrade")
    assert await _revision(database_at_0003) == "0004"
    assert await _schema_shape(database_at_0003) == old_shape
    assert await _kept_rows(database_at_0003) == before
    await _migrate(database_at_0003, "head")
    assert await _schema_differences(database_at_0003) == []


async def _kept_rows(database: Database) -> list[Any]:
    """The rows a migration must keep, read by the columns they had at 0003 (the models know newer ones)."""
    async with database.engine.connect() as conn:
        return [
            (await conn.execute(text(f"SELECT {columns} FROM {table} ORDER BY id"))).all()
            for table, columns in (
                ("participants", "id, name, caseworker_id, language, telegram_chat_id, status"),
                ("appointments", "id, participant_id, place, version, status"),
                ("outbox", "id, idempotency_key, status"),
            )
        ]


# Migration 0006: caseworkers' Telegram columns and the digests table, on a database 0005 filled.


async def test_0006_adds_caseworkers_telegram_and_digests_and_keeps_every_row(database_at_0003: Database) -> None:
    await _migrate(database_at_0003, "0005")
    before, old_shape = await _kept_rows(database_at_0003), await _schema_shape(database_at_0003)
    assert "digests" not in old_shape

    await _migrate(database_at_0003, "0006")

    assert await _revision(database_at_0003) == "0006"
    assert await _kept_rows(database_at_0003) == before
    shape = await _schema_shape(database_at_0003)
    assert "digests" in shape
    assert {"telegram_chat_id", "invite_code", "invite_expires_at", "invite_used_at"} <= {column[0] for column in shape["caseworkers"]["columns"]}
    await _migrate(database_at_0003, "head")  # later migrations came after: the models match the newest
    assert await _schema_differences(database_at_0003) == []


# Migration 0010: the imported translations' table, on a database 0006 filled.


async def test_0010_adds_the_translations_table_keeps_every_row_and_downgrades(database_at_0003: Database) -> None:
    await _migrate(database_at_0003, "0006")
    before, old_shape = await _kept_rows(database_at_0003), await _schema_shape(database_at_0003)
    assert "translations" not in old_shape
    await _migrate(database_at_0003, "0010")
    assert await _revision(database_at_0003) == "0010"
    # The models are the newest: only what 0011 and 0012 add is missing.
    assert _what_is_missing(await _schema_differences(database_at_0003)) == AFTER_0011 | AFTER_0012
    assert await _kept_rows(database_at_0003) == before
    assert {column[0] for column in (await _schema_shape(database_at_0003))["translations"]["columns"]} == {
        "id", "language", "msgid", "msgid_plural", "strings", "unreviewed", "revision", "source", "imported_at",
    }
    await _migrate(database_at_0003, "0006", "downgrade")
    assert await _schema_shape(database_at_0003) == old_shape
    assert await _kept_rows(database_at_0003) == before


async def test_0006_downgrades_to_0005_and_up_again(database_at_0003: Database) -> None:
    await _migrate(database_at_0003, "0005")
    before, old_shape = await _kept_rows(database_at_0003), await _schema_shape(database_at_0003)
    await _migrate(database_at_0003, "0006")
    await _migrate(database_at_0003, "0005", "downgrade")
    assert await _revision(database_at_0003) == "0005"
    assert await _schema_shape(database_at_0003) == old_shape
    assert await _kept_rows(database_at_0003) == before
    await _migrate(database_at_0003, "head")
    assert await _schema_differences(database_at_0003) == []


# Migration 0009: published flow versions and the live-content counters, on a database 0006 filled.


async def test_0009_adds_flow_versions_and_live_content_and_downgrades_again(database_at_0003: Database) -> None:
    await _migrate(database_at_0003, "0006")
    before, old_shape = await _kept_rows(database_at_0003), await _schema_shape(database_at_0003)
    assert "flow_versions" not in old_shape and "live_content" not in old_shape
    await _migrate(database_at_0003, "0009")
    assert await _revision(database_at_0003) == "0009"
    assert await _kept_rows(database_at_0003) == before
    shape = await _schema_shape(database_at_0003)
    assert {"flow", "version", "text", "note", "published_by", "published_at", "rollback_of"} == {column[0] for column in shape["flow_versions"]["columns"]} - {"id"}
    assert {"kind", "revision", "changed_at"} == {column[0] for column in shape["live_content"]["columns"]}
    await _migrate(database_at_0003, "0006", "downgrade")
    assert await _schema_shape(database_at_0003) == old_shape
    assert await _kept_rows(database_at_0003) == before
    await _migrate(database_at_0003, "head")
    assert await _schema_differences(database_at_0003) == []


# What a later migration adds, as `_what_is_missing` names it: the newest models have it, an
# older database does not.
AFTER_0011 = {("add_column", "participants.finish_reason"), ("add_column", "participants.finished_on")}
AFTER_0012 = {("add_table", "access_log"), ("add_table", "access_log_participants"), ("add_index", "access_log"), ("add_index", "access_log_participants")}


def _what_is_missing(differences: list) -> set[tuple[str, str]]:
    """Alembic's differences between the models and a database, as (kind, table or table.column)."""
    named = set()
    for difference in differences:
        kind = difference[0]
        if kind == "add_column":
            named.add((kind, f"{difference[2]}.{difference[3].name}"))
        elif kind == "add_table":
            named.add((kind, difference[1].name))
        else:
            named.add((kind, difference[1].table.name))
    return named


# Migration 0011: when and why a participation ended, on a database 0010 filled.


async def test_0011_adds_the_finish_columns_keeps_every_row_and_downgrades(database_at_0003: Database) -> None:
    await _migrate(database_at_0003, "0010")
    before, old_shape = await _kept_rows(database_at_0003), await _schema_shape(database_at_0003)
    await _migrate(database_at_0003, "0011")
    assert await _revision(database_at_0003) == "0011"
    assert _what_is_missing(await _schema_differences(database_at_0003)) == AFTER_0012
    assert await _kept_rows(database_at_0003) == before
    assert {"finished_on", "finish_reason"} <= {column[0] for column in (await _schema_shape(database_at_0003))["participants"]["columns"]}
    await _migrate(database_at_0003, "0010", "downgrade")
    assert await _schema_shape(database_at_0003) == old_shape
    assert await _kept_rows(database_at_0003) == before


# Migration 0012: the access log, and invite codes stored as hashes, on a database 0011 filled.


async def test_0012_adds_the_append_only_access_log_hashes_invite_codes_and_downgrades(database_at_0003: Database) -> None:
    import hashlib

    from sqlalchemy.exc import DBAPIError

    await _migrate(database_at_0003, "0011")
    async with database_at_0003.engine.begin() as conn:
        await conn.execute(text("INSERT INTO invites (id, code, participant_id, created_at, expires_at) VALUES (1, :code, 1, :now, :later)"), {"code": "A" * 43, "now": NOW.replace(tzinfo=None), "later": LATER.replace(tzinfo=None)})
        await conn.execute(text("UPDATE caseworkers SET invite_code = :code"), {"code": "case-" + "B" * 36})
    before, old_shape = await _kept_rows(database_at_0003), await _schema_shape(database_at_0003)
    await _migrate(database_at_0003, "0012")
    assert await _revision(database_at_0003) == "0012"
    assert await _schema_differences(database_at_0003) == []
    assert await _kept_rows(database_at_0003) == before
    async with database_at_0003.engine.begin() as conn:
        assert (await conn.execute(text("SELECT code FROM invites"))).scalar() == hashlib.sha256(b"A" * 43).hexdigest()  # the link already sent still works
        assert (await conn.execute(text("SELECT invite_code FROM caseworkers"))).scalar() == hashlib.sha256(b"case-" + b"B" * 36).hexdigest()
        await conn.execute(text("INSERT INTO access_log (id, at, actor, what) VALUES (1, :now, 'cli:anna', 'participant.list')"), {"now": NOW.replace(tzinfo=None)})
        await conn.execute(text("INSERT INTO access_log_participants (log_id, participant_id) VALUES (1, 1)"))
    for statement in ("UPDATE access_log SET actor = 'x'", "DELETE FROM access_log_participants"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with database_at_0003.engine.begin() as conn:
                await conn.execute(text(statement))
    await _migrate(database_at_0003, "0011", "downgrade")
    assert await _schema_shape(database_at_0003) == old_shape
    assert await _kept_rows(database_at_0003) == before
    await _migrate(database_at_0003, "head")
    assert await _schema_differences(database_at_0003) == []
