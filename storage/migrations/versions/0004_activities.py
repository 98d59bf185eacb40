"""Group activities: weekly rules, enrolments and cancelled sessions.

Revision ID: 0004
Revises: 0003
Create Date: 2027-01-04

Four new tables; nothing existing changes. Sessions are not stored: they follow from an
activity's weekly rules (``bot/features/activities/schedule.py``); only a cancelled one is.

Written by hand to match storage/models.py; tests/test_storage.py compares the two, and
tests/test_migrations.py upgrades a filled 0003 database to it and back.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("on_holidays", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "activity_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("local_time", sa.Time(), nullable=False),
        sa.ForeignKeyConstraint(["activity_id"], ["activities.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("activity_id", "weekday", "local_time"),
    )
    op.create_index(op.f("ix_activity_rules_activity_id"), "activity_rules", ["activity_id"])
    op.create_table(
        "enrolments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("from_date", sa.Date(), nullable=False),
        sa.Column("left_date", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["activity_id"], ["activities.id"]),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_enrolments_activity_participant", "enrolments", ["activity_id", "participant_id"])
    op.create_index(op.f("ix_enrolments_participant_id"), "enrolments", ["participant_id"])
    op.create_table(
        "cancelled_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["activity_id"], ["activities.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("activity_id", "local_date"),
    )


def downgrade() -> None:
    op.drop_table("cancelled_sessions")
    op.drop_index(op.f("ix_enrolments_participant_id"), table_name="enrolments")
    op.drop_index("ix_enrolments_activity_participant", table_name="enrolments")
    op.drop_table("enrolments")
    op.drop_index(op.f("ix_activity_rules_activity_id"), table_name="activity_rules")
    op.drop_table("activity_rules")
    op.drop_table("activities")
