"""Roll call, practice check-ins and the funders' gender field.

Revision ID: 0005
Revises: 0004
Create Date: 2027-01-18

New tables for activity leaders (and which activities they lead), the attendance they record,
and the weekly practice check-ins; new nullable columns for a participant's optional gender and
for when a participant's or an activity's check-in comes; an index on events (type, occurred_at)
for the monthly reports. Pending morning questions of the old kind (one per activity and
day) are withdrawn, to be planned again one per participant and day.

Written by hand to match storage/models.py; tests/test_storage.py compares the two, and
tests/test_migrations.py upgrades a filled 0004 database to it and back.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("participants", sa.Column("gender", sa.String(length=16), nullable=True))
    for table in ("participants", "activities"):
        op.add_column(table, sa.Column("checkin_weekday", sa.Integer(), nullable=True))
        op.add_column(table, sa.Column("checkin_time", sa.Time(), nullable=True))
    op.create_table(
        "leaders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=True),
        sa.Column("telegram_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("invite_code", sa.String(length=64), nullable=True),
        sa.Column("invite_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("invite_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("telegram_chat_id"),
        sa.UniqueConstraint("invite_code"),
    )
    op.create_table(
        "leader_activities",
        sa.Column("leader_id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["activity_id"], ["activities.id"]),
        sa.ForeignKeyConstraint(["leader_id"], ["leaders.id"]),
        sa.PrimaryKeyConstraint("leader_id", "activity_id"),
    )
    op.create_index(op.f("ix_leader_activities_activity_id"), "leader_activities", ["activity_id"])
    op.create_table(
        "attendance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("present", sa.Boolean(), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["activity_id"], ["activities.id"]),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("activity_id", "local_date", "participant_id"),
    )
    op.create_index("ix_attendance_local_date", "attendance", ["local_date"])
    op.create_index(op.f("ix_attendance_participant_id"), "attendance", ["participant_id"])
    op.create_table(
        "checkins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("nudged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unanswered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("practice", sa.String(length=16), nullable=True),
        sa.Column("places", sa.JSON(), nullable=True),
        sa.Column("confidence", sa.Integer(), nullable=True),
        sa.Column("voice_notes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("participant_id", "week"),
    )
    op.create_index("ix_checkins_week", "checkins", ["week"])
    # The morning question is now one row per participant and day (subject activity_morning),
    # no longer one per activity and day: pending rows of the old kind are withdrawn, and the
    # activities' planning job plans today's and tomorrow's questions again on its next run.
    op.execute(
        "UPDATE outbox SET status = 'cancelled', last_error = 'withdrawn: the morning question is now planned per participant and day' "
        "WHERE subject_kind = 'activity_day' AND status = 'pending'"
    )
    # The funders' reports read one month of activity_report events, not their whole history.
    op.create_index("ix_events_type_time", "events", ["type", "occurred_at"])
    # The caseworker's digest reads the appointments of today, tomorrow and the next 48 hours.
    op.create_index("ix_appointments_starts_at", "appointments", ["starts_at"])


def downgrade() -> None:
    op.drop_index("ix_appointments_starts_at", table_name="appointments")
    op.drop_index("ix_events_type_time", table_name="events")
    op.drop_index("ix_checkins_week", table_name="checkins")
    op.drop_table("checkins")
    op.drop_index(op.f("ix_attendance_participant_id"), table_name="attendance")
    op.drop_index("ix_attendance_local_date", table_name="attendance")
    op.drop_table("attendance")
    op.drop_index(op.f("ix_leader_activities_activity_id"), table_name="leader_activities")
    op.drop_table("leader_activities")
    op.drop_table("leaders")
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): a batch would copy the participants table,
    # which other tables' foreign keys point at.
    for table, columns in (("activities", ("checkin_time", "checkin_weekday")), ("participants", ("checkin_time", "checkin_weekday", "gender"))):
        for column in columns:
            op.drop_column(table, column)
