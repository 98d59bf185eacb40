"""The outbox knows recipients, channels, subjects and composers; conversations become run stacks.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

Outbox rows lose ``participant_id``, ``appointment_id`` and ``kind`` and gain the recipient
(kind, id or address), the channel, the subject (kind, id, version), the composer and a slot,
from which the idempotency key is made. Existing rows are carried over: a reminder
``appointment:7:v2:1d`` to participant 5 becomes recipient participant 5 on telegram, subject
appointment 7 version 2, composer ``appointment.reminder``, slot ``1d``.

A conversation's ``data`` was one flow's state with the question it interrupted nested under
``interrupted``; it becomes ``{"runs": [...]}``, the stack of open runs, bottom first, each with
the flow's version (1: every flow so far came from a file).

Written by hand to match storage/models.py; tests/test_storage.py compares the two, and
tests/test_migrations.py runs this on a database filled by the old schema.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As storage.outbox.idempotency_key wrote them when this migration was written; the migration must
# keep meaning the same thing whatever that function becomes later.
_COMPOSERS = {"reminder": "appointment.reminder", "moved": "appointment.moved", "cancelled": "appointment.cancelled"}


def _key(recipient_kind: str, recipient: Any, subject_kind: str | None, subject_id: Any, version: Any, composer: str, slot: str) -> str:
    subject = f"{subject_kind}:{subject_id}:v{version}" if subject_kind else "-"
    return f"{recipient_kind}:{recipient}/{subject}/{composer}/{slot}"


def _old_version(key: str) -> int | None:
    # "appointment:<id>:v<version>:<lead or kind>"
    parts = key.split(":")
    if len(parts) >= 3 and parts[0] == "appointment" and parts[2].startswith("v") and parts[2][1:].isdigit():
        return int(parts[2][1:])
    return None


def _runs(flow: str | None, step: str | None, data: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The old nested state (the interrupted question under "interrupted") as a stack, bottom first."""
    data = dict(data or {})
    below = data.pop("interrupted", None)
    runs = _runs(below.get("flow"), below.get("step"), below.get("data")) if isinstance(below, dict) else []
    if flow and step:
        runs.append({"flow": flow, "version": 1, "step": step, "data": data})
    return runs


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("idempotency_key", type_=sa.String(length=500), existing_type=sa.String(length=128), existing_nullable=False)
        batch.add_column(sa.Column("recipient_kind", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("recipient_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("recipient_address", sa.String(length=320), nullable=True))
        batch.add_column(sa.Column("channel", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("subject_kind", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("subject_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("subject_version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("composer", sa.String(length=48), nullable=True))
        batch.add_column(sa.Column("slot", sa.String(length=32), nullable=True))

    connection = op.get_bind()
    outbox = sa.table(
        "outbox",
        *(sa.column(name) for name in ("id", "idempotency_key", "participant_id", "appointment_id", "kind", "recipient_kind", "recipient_id",
                                       "channel", "subject_kind", "subject_id", "subject_version", "composer", "slot")),
        sa.column("payload", sa.JSON()),
    )
    changed = []
    for row in connection.execute(sa.select(outbox.c.id, outbox.c.idempotency_key, outbox.c.participant_id, outbox.c.appointment_id, outbox.c.kind, outbox.c.payload)):
        composer = _COMPOSERS.get(row.kind, f"appointment.{row.kind}")
        slot = str((row.payload or {}).get("lead") or "") if row.kind == "reminder" else ""
        subject_kind = "appointment" if row.appointment_id is not None else None
        version = _old_version(row.idempotency_key)
        changed.append({
            "row_id": row.id,
            "new_key": _key("participant", row.participant_id, subject_kind, row.appointment_id, version, composer, slot),
            "new_recipient_id": row.participant_id,
            "new_subject_kind": subject_kind,
            "new_subject_id": row.appointment_id,
            "new_subject_version": version,
            "new_composer": composer,
            "new_slot": slot,
        })
    if changed:
        connection.execute(
            outbox.update()
            .where(outbox.c.id == sa.bindparam("row_id"))
            .values(
                idempotency_key=sa.bindparam("new_key"),
                recipient_kind="participant",
                recipient_id=sa.bindparam("new_recipient_id"),
                channel="telegram",
                subject_kind=sa.bindparam("new_subject_kind"),
                subject_id=sa.bindparam("new_subject_id"),
                subject_version=sa.bindparam("new_subject_version"),
                composer=sa.bindparam("new_composer"),
                slot=sa.bindparam("new_slot"),
            ),
            changed,
        )

    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_participant_id")
        batch.drop_index("ix_outbox_appointment_id")
        batch.drop_column("participant_id")
        batch.drop_column("appointment_id")
        batch.drop_column("kind")
        for name in ("recipient_kind", "channel", "composer", "slot"):
            batch.alter_column(name, existing_type=sa.String(), nullable=False)
        batch.create_index("ix_outbox_recipient", ["recipient_kind", "recipient_id"])
        batch.create_index("ix_outbox_subject", ["subject_kind", "subject_id"])

    conversations = sa.table("conversations", sa.column("participant_id"), sa.column("flow"), sa.column("step"), sa.column("data", sa.JSON()))
    reshaped = [
        {"who": row.participant_id, "new_data": {"runs": _runs(row.flow, row.step, row.data)}}
        for row in connection.execute(sa.select(conversations.c.participant_id, conversations.c.flow, conversations.c.step, conversations.c.data))
    ]
    if reshaped:
        connection.execute(
            conversations.update().where(conversations.c.participant_id == sa.bindparam("who")).values(data=sa.bindparam("new_data", type_=sa.JSON())),
            reshaped,
        )


def downgrade() -> None:
    conversations = sa.table("conversations", sa.column("participant_id"), sa.column("flow"), sa.column("step"), sa.column("data", sa.JSON()))
    connection = op.get_bind()
    flattened = []
    for row in connection.execute(sa.select(conversations.c.participant_id, conversations.c.data)):
        state: dict[str, Any] = {}
        for run in (row.data or {}).get("runs", []):
            inner = dict(run.get("data") or {})
            if state:
                inner["interrupted"] = state
            state = {"flow": run.get("flow"), "step": run.get("step"), "data": inner}
        flattened.append({"who": row.participant_id, "old_flow": state.get("flow"), "old_step": state.get("step"), "old_data": state.get("data", {})})
    if flattened:
        connection.execute(
            conversations.update()
            .where(conversations.c.participant_id == sa.bindparam("who"))
            .values(flow=sa.bindparam("old_flow"), step=sa.bindparam("old_step"), data=sa.bindparam("old_data", type_=sa.JSON())),
            flattened,
        )

    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("participant_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("appointment_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("kind", sa.String(length=32), nullable=True))
    outbox = sa.table(
        "outbox",
        *(sa.column(name) for name in ("id", "idempotency_key", "participant_id", "appointment_id", "kind", "recipient_id", "subject_id", "subject_version", "composer", "slot")),
    )
    back = {composer: kind for kind, composer in _COMPOSERS.items()}
    rows = [
        {
            "row_id": row.id,
            "old_participant": row.recipient_id,
            "old_appointment": row.subject_id,
            "old_kind": back.get(row.composer, row.composer.rsplit(".", 1)[-1]),
            "old_key": f"appointment:{row.subject_id}:v{row.subject_version}:{row.slot or back.get(row.composer, row.composer)}",
        }
        for row in connection.execute(sa.select(outbox.c.id, outbox.c.recipient_id, outbox.c.subject_id, outbox.c.subject_version, outbox.c.composer, outbox.c.slot))
    ]
    if rows:
        connection.execute(
            outbox.update()
            .where(outbox.c.id == sa.bindparam("row_id"))
            .values(participant_id=sa.bindparam("old_participant"), appointment_id=sa.bindparam("old_appointment"), kind=sa.bindparam("old_kind"), idempotency_key=sa.bindparam("old_key")),
            rows,
        )
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_recipient")
        batch.drop_index("ix_outbox_subject")
        for name in ("recipient_kind", "recipient_id", "recipient_address", "channel", "subject_kind", "subject_id", "subject_version", "composer", "slot"):
            batch.drop_column(name)
        batch.alter_column("participant_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("kind", existing_type=sa.String(length=32), nullable=False)
        batch.alter_column("idempotency_key", type_=sa.String(length=128), existing_type=sa.String(length=500), existing_nullable=False)
        batch.create_foreign_key("fk_outbox_participant_id", "participants", ["participant_id"], ["id"])
        batch.create_foreign_key("fk_outbox_appointment_id", "appointments", ["appointment_id"], ["id"])
        batch.create_index("ix_outbox_participant_id", ["participant_id"])
        batch.create_index("ix_outbox_appointment_id", ["appointment_id"])
