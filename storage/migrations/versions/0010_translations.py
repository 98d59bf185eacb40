"""Imported translations, read by the running bot on top of the catalogs.

Revision ID: 0010
Revises: 0006
Create Date: 2027-02-08

`translations` holds what ``stegvis translations import`` accepted: one row per language and
Swedish text, with its strings (one per plural form), whether it is still an unreviewed draft,
and the import (`revision`) that wrote it; a running bot reads the rows again when the highest
revision changes.

Written by hand to match storage/models.py; tests/test_storage.py compares the two.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "translations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("msgid", sa.Text(), nullable=False),
        sa.Column("msgid_plural", sa.Text(), nullable=True),
        sa.Column("strings", sa.JSON(), nullable=False),
        sa.Column("unreviewed", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("language", "msgid"),
    )
    op.create_index("ix_translations_revision", "translations", ["revision"])


def downgrade() -> None:
    op.drop_index("ix_translations_revision", table_name="translations")
    op.drop_table("translations")
