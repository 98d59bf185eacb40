"""Initial schema: caseworkers, participants, invites, consent, conversations, append-only events.

Revision ID: 0001
Revises:
Create Date: 2025-11-22

Written by hand to match storage/models.py; tests/test_storage.py compares the two.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = "events are append-only"


def upgrade() -> None:
    op.create_table(
        "caseworkers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "participants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("caseworker_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=True),
        sa.Column("telegram_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["caseworker_id"], ["caseworkers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("telegram_chat_id"),
    )
    op.create_index(op.f("ix_participants_caseworker_id"), "participants", ["caseworker_id"])
    op.create_table(
        "invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index(op.f("ix_invites_participant_id"), "invites", ["participant_id"])
    op.create_table(
        "consent_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("notice_version", sa.String(length=32), nullable=False),
        sa.Column("answer", sa.String(length=16), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_consent_records_participant_id"), "consent_records", ["participant_id"]
    )
    op.create_table(
        "conversations",
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("flow", sa.String(length=64), nullable=True),
        sa.Column("step", sa.String(length=64), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"]),
        sa.PrimaryKeyConstraint("participant_id"),
    )
    op.create_table(
        "events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("flow", sa.String(length=64), nullable=True),
        sa.Column("step", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_events_type"), "events", ["type"])
    op.create_index("ix_events_participant_time", "events", ["participant_id", "occurred_at"])

    # The event log is evidence of what happened, so the database itself refuses edits.
    # DELETE stays allowed: a participant may ask for their data to be erased.
    if op.get_bind().dialect.name == "postgresql":
        # restrict_violation surfaces as an IntegrityError, as SQLite's RAISE(ABORT) does.
        op.execute(
            f"""
            CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{APPEND_ONLY}' USING ERRCODE = 'restrict_violation';
            END
            $$
            """
        )
        op.execute(
            "CREATE TRIGGER events_append_only BEFORE UPDATE ON events "
            "FOR EACH ROW EXECUTE FUNCTION events_append_only()"
        )
    else:
        op.execute(
            "CREATE TRIGGER events_append_only BEFORE UPDATE ON events "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_append_only ON events")
        op.execute("DROP FUNCTION IF EXISTS events_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS events_append_only")
    op.drop_index("ix_events_participant_time", table_name="events")
    op.drop_index(op.f("ix_events_type"), table_name="events")
    op.drop_table("events")
    op.drop_table("conversations")
    op.drop_index(op.f("ix_consent_records_participant_id"), table_name="consent_records")
    op.drop_table("consent_records")
    op.drop_index(op.f("ix_invites_participant_id"), table_name="invites")
    op.drop_table("invites")
    op.drop_index(op.f("ix_participants_caseworker_id"), table_name="participants")
    op.drop_table("participants")
    op.drop_table("caseworkers")
