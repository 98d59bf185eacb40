"""The access log (who was shown whose data), and invite codes stored as hashes.

Revision ID: 0012
Revises: 0011
Create Date: 2027-02-15

`access_log` holds one row each time staff were shown participants' personal data (a listing, a
digest, a report with names), `access_log_participants` which participants each row showed: a
child table rather than a list in a column, so "who looked at participant 7" is one read of the
index ``ix_access_log_participants_participant`` on both backends. The database refuses UPDATE
and DELETE on both tables (and TRUNCATE on PostgreSQL), as it refuses UPDATE on `events`.

`invites.code`, `leaders.invite_code` and `caseworkers.invite_code` now hold the SHA-256 (hex) of
the code instead of the code: the link is shown once, when it is made. Existing codes are hashed
here, so links already sent keep working. The downgrade cannot give the codes back: it leaves
the hashes, and the older code then finds no invite for a link made before the upgrade
(`stegvis participant invite ID`, `leader invite ID`, `caseworker invite ID` make new ones).

Written by hand to match storage/models.py; tests/test_migrations.py compares the two.
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = "the access log is append-only"
TABLES = ("access_log", "access_log_participants")


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "access_log",
        sa.Column("id", big_id, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("what", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_access_log_at", "access_log", ["at"])
    op.create_table(
        "access_log_participants",
        sa.Column("log_id", big_id, nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["log_id"], ["access_log.id"]),
        sa.PrimaryKeyConstraint("log_id", "participant_id"),
    )
    op.create_index("ix_access_log_participants_participant", "access_log_participants", ["participant_id", "log_id"])

    if op.get_bind().dialect.name == "postgresql":
        # restrict_violation surfaces as an IntegrityError, as SQLite's RAISE(ABORT) does.
        op.execute(
            f"""
            CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{APPEND_ONLY}' USING ERRCODE = 'restrict_violation';
            END
            $$
            """
        )
        for table in TABLES:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION access_log_append_only()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only()")
    else:
        for table in TABLES:
            for action in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END")

    # Hash the codes of existing invites (tokens of at most 46 characters; a hash is 64 hex digits):
    # participants' (invites.code), and leaders' and caseworkers' (invite_code).
    bind = op.get_bind()
    for table_name, column in (("invites", "code"), ("leaders", "invite_code"), ("caseworkers", "invite_code")):
        table = sa.table(table_name, sa.column("id", sa.Integer()), sa.column(column, sa.String()))
        for row_id, code in bind.execute(sa.select(table.c.id, table.c[column]).where(table.c[column].is_not(None))).all():
            bind.execute(table.update().where(table.c.id == row_id).values({column: hashlib.sha256(code.encode()).hexdigest()}))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS access_log_append_only()")
    else:
        for table in TABLES:
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
    op.drop_index("ix_access_log_participants_participant", table_name="access_log_participants")
    op.drop_table("access_log_participants")
    op.drop_index("ix_access_log_at", table_name="access_log")
    op.drop_table("access_log")
