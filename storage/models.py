"""SQLAlchemy 2 models: who takes part, how they joined, what they agreed to, and what happened.

Timestamps are stored as UTC and always come back timezone-aware, on SQLite and PostgreSQL alike.
Personal data is kept to what the programme needs: a name, a language and a Telegram chat id;
nothing else from the Telegram profile is stored.
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is stored in UTC and read back as an aware datetime.

    SQLite has no time zones, so we normalise on the way in and re-attach UTC on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a time zone first")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


class ParticipantStatus(str, enum.Enum):
    INVITED = "invited"
    ACTIVE = "active"
    STOPPED = "stopped"
    UNREACHABLE = "unreachable"


class ConsentAnswer(str, enum.Enum):
    AGREED = "agreed"
    DECLINED = "declined"


class Caseworker(Base):
    __tablename__ = "caseworkers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    participants: Mapped[list[Participant]] = relationship(back_populates="caseworker")


class Participant(Base):
    __tablename__ = "participants"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    caseworker_id: Mapped[int] = mapped_column(ForeignKey("caseworkers.id"), index=True)
    # A language code from locales.LANGUAGES ("sv", "ar", "so", "fa_AF", "ti"); None until chosen
    # or preset by the caseworker.
    language: Mapped[str | None] = mapped_column(String(10))
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    status: Mapped[ParticipantStatus] = mapped_column(
        String(16), default=ParticipantStatus.INVITED
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    caseworker: Mapped[Caseworker] = relationship(back_populates="participants")


class Invite(Base):
    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    participant: Mapped[Participant] = relationship()


class ConsentRecord(Base):
    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    notice_version: Mapped[str] = mapped_column(String(32))
    answer: Mapped[ConsentAnswer] = mapped_column(String(16))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Conversation(Base):
    """Where a participant is in a flow: plain data, saved after every step."""

    __tablename__ = "conversations"

    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), primary_key=True)
    flow: Mapped[str | None] = mapped_column(String(64))
    step: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Event(Base):
    """One thing that happened. Append-only: the database refuses updates to this table."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_participant_time", "participant_id", "occurred_at"),)

    # BIGINT on PostgreSQL; on SQLite only INTEGER PRIMARY KEY auto-increments.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id"))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    flow: Mapped[str | None] = mapped_column(String(64))
    step: Mapped[str | None] = mapped_column(String(64))
