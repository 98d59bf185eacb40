"""Finished participants: when and why their participation ended.

Revision ID: 0011
Revises: 0010
Create Date: 2027-02-15

`participants` gets `finished_on` (the local date the participation ended; retention counts
from it) and `finish_reason` (work, studies, other_programme, moved, other: the funders'
statistics). The statuses `finished` and `erased` need no change: the column is a plain string.
Columns added in place, without a batch: SQLite would copy the table every other one points at.

Written by hand to match storage/models.py; tests/test_storage.py compares the two, and
tests/test_migrations.py upgrades a filled database to it and back.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("participants", sa.Column("finished_on", sa.Date(), nullable=True))
    op.add_column("participants", sa.Column("finish_reason", sa.String(length=16), nullable=True))


def downgrade() -> None:
    for column in ("finish_reason", "finished_on"):
        op.drop_column("participants", column)
