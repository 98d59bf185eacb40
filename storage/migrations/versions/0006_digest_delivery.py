"""Caseworkers on Telegram and the record of the digests sent to them.

Revision ID: 0006
Revises: 0005
Create Date: 2027-02-01

Caseworkers get a Telegram chat and an invite code (with its expiry and when it was used), like
leaders in 0005; unique indexes rather than constraints, so SQLite adds the columns in place
(a batch would copy the caseworkers table, which participants point at). A new `digests` table
holds one row per caseworker, day and channel: what was sent when, or why it failed.

Written by hand to match storage/models.py; tests/test_storage.py compares the two, and
tests/test_migrations.py upgrades a filled 0005 database to it and back.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("caseworkers", sa.Column("telegram_chat_id", sa.BigInteger(), nullable=True))
    op.add_column("caseworkers", sa.Column("invite_code", sa.String(length=64), nullable=True))
    op.add_column("caseworkers", sa.Column("invite_expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("caseworkers", sa.Column("invite_used_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f("ix_caseworkers_telegram_chat_id"), "caseworkers", ["telegram_chat_id"], unique=True)
    op.create_index(op.f("ix_caseworkers_invite_code"), "caseworkers", ["invite_code"], unique=True)
    op.create_table(
        "digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("caseworker_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["caseworker_id"], ["caseworkers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("caseworker_id", "day", "channel"),
    )
    op.create_index("ix_digests_day", "digests", ["day"])


def downgrade() -> None:
    op.drop_index("ix_digests_day", table_name="digests")
    op.drop_table("digests")
    op.drop_index(op.f("ix_caseworkers_invite_code"), table_name="caseworkers")
    op.drop_index(op.f("ix_caseworkers_telegram_chat_id"), table_name="caseworkers")
    for column in ("invite_used_at", "invite_expires_at", "invite_code", "telegram_chat_id"):
        op.drop_column("caseworkers", column)
