"""SQLAlchemy 2 models: who takes part, how they joined, what they agreed to, and what happened.

Timestamps are stored as UTC and always come back timezone-aware, on SQLite and PostgreSQL alike.
None of them has a default: whoever writes a row passes the time from its `storage.clock.Clock`,
so nothing here reads the real clock.
Personal data is kept to what the programme needs: a name, a language and a Telegram chat id;
nothing else from the Telegram profile is stored.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, time, timezone
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String, Text, TypeDecorator, UniqueConstraint
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
        if value.tzinfo is not timezone.utc:  # most already are: the clock and the parsers give UTC
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


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


class ParticipantStatus(str, enum.Enum):
    INVITED = "invited"
    ACTIVE = "active"
    STOPPED = "stopped"
    UNREACHABLE = "unreachable"
    # The participation ended (`stegvis participant end`): nothing more is sent, the reason is kept.
    FINISHED = "finished"
    # A de-identified row left by an erasure: no name, no chat, a random negative id that links to
    # nobody; only what the funders' statistics count points at it (bot/features/leaving/erasure.py).
    ERASED = "erased"


class FinishReason(str, enum.Enum):
    """Where a participant goes after the programme, as the funders count it."""

    WORK = "work"
    STUDIES = "studies"
    OTHER_PROGRAMME = "other_programme"
    MOVED = "moved"
    OTHER = "other"


class Gender(str, enum.Enum):
    WOMAN = "woman"
    MAN = "man"
    OTHER = "other"
    UNKNOWN = "unknown"


class ConsentAnswer(str, enum.Enum):
    AGREED = "agreed"
    DECLINED = "declined"


class Caseworker(Base):
    __tablename__ = "caseworkers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime]
    # Their Telegram, linked with an invite code like a leader's (migration 0006). Unique indexes,
    # not constraints: SQLite adds a column to a table others point at only without one.
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger, unique=True, index=True)
    # The SHA-256 of their link's code, never the code (migration 0012): the link is shown once.
    invite_code_hash: Mapped[str | None] = mapped_column("invite_code", String(64), unique=True, index=True)
    invite_expires_at: Mapped[datetime | None]
    invite_used_at: Mapped[datetime | None]

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
    # For the funders' statistics only: a `Gender` the caseworker may set; never asked in the chat.
    gender: Mapped[str | None] = mapped_column(String(16))
    # When this participant's weekly practice check-in comes (weekday 0 Monday … 6, local time);
    # None: their activity's, else STEGVIS_CHECKIN_TIME.
    checkin_weekday: Mapped[int | None]
    checkin_time: Mapped[time | None]
    # When and why the participation ended (status finished; migration 0011). The local date it
    # ended; retention counts STEGVIS_RETENTION_MONTHS from it.
    finished_on: Mapped[date | None]
    finish_reason: Mapped[str | None] = mapped_column(String(16))  # a FinishReason
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    caseworker: Mapped[Caseworker] = relationship(back_populates="participants")


class Invite(Base):
    """A participant's personal invite. Only the code's SHA-256 is stored (migration 0012): the
    link is shown once, when it is made (``repositories.create_invite`` hands the code back), and
    someone who reads the database cannot use it to take over a participant's place."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The column keeps its name "code"; the attribute says what it holds, so nothing reads it as a link.
    code_hash: Mapped[str] = mapped_column("code", String(64), unique=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    participant: Mapped[Participant] = relationship()


class ConsentRecord(Base):
    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    notice_version: Mapped[str] = mapped_column(String(32))
    answer: Mapped[ConsentAnswer] = mapped_column(String(16))
    recorded_at: Mapped[datetime]


class Conversation(Base):
    """Where a participant is in the flows: plain data, saved after every step.

    ``data`` is the engine's state (``flows.engine.State.to_dict``: the stack of open runs);
    ``flow`` and ``step`` repeat the top run's, so a person can read where someone is.
    """

    __tablename__ = "conversations"

    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), primary_key=True)
    flow: Mapped[str | None] = mapped_column(String(64))
    step: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]


class Event(Base):
    """One thing that happened. Append-only: the database refuses updates to this table."""

    __tablename__ = "events"
    # ix_events_type_time: a report reads one month of one type (activity_report) without the history.
    __table_args__ = (Index("ix_events_participant_time", "participant_id", "occurred_at"), Index("ix_events_type_time", "type", "occurred_at"))

    # BIGINT on PostgreSQL; on SQLite only INTEGER PRIMARY KEY auto-increments.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id"))
    occurred_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    flow: Mapped[str | None] = mapped_column(String(64))
    step: Mapped[str | None] = mapped_column(String(64))


class AppointmentStatus(str, enum.Enum):
    BOOKED = "booked"
    CANCELLED = "cancelled"


class Appointment(Base):
    """A meeting a caseworker booked for a participant; reminders are planned from it."""

    __tablename__ = "appointments"
    # ix_appointments_starts_at: the digest reads the next days' appointments, not the history.
    __table_args__ = (Index("ix_appointments_starts_at", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    starts_at: Mapped[datetime]
    place: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(200))
    # "3d,1d"-style lead times for this appointment; None means STEGVIS_REMINDER_LEAD_TIMES.
    lead_times: Mapped[str | None] = mapped_column(String(100))
    # Raised by every move; part of each reminder's idempotency key, so no stale reminder is sent.
    version: Mapped[int] = mapped_column(default=1)
    status: Mapped[AppointmentStatus] = mapped_column(String(16), default=AppointmentStatus.BOOKED)
    # The participant's latest answer: coming / cant_come / new_time, or unanswered once it passed.
    answer: Mapped[str | None] = mapped_column(String(16))
    answered_at: Mapped[datetime | None]
    attended: Mapped[bool | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OutboxStatus(str, enum.Enum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class RecipientKind(str, enum.Enum):
    """Who an outbox message goes to."""

    PARTICIPANT = "participant"
    CASEWORKER = "caseworker"
    LEADER = "leader"
    EMAIL = "email"  # an address only, with no person record behind it
    # A participant whose participation ended: only their one goodbye goes to them this way
    # (participants' rows are sent only while they are active).
    FORMER = "former"


class Channel(str, enum.Enum):
    TELEGRAM = "telegram"
    EMAIL = "email"


class OutboxMessage(Base):
    """A message Stegvis will send on its own, claimed and sent by the sender when due.

    It goes to a *recipient* (a participant, caseworker or leader by id, or an email address) over
    a *channel*, is about a *subject* (kind, id, version: e.g. appointment 7 as booked in version
    2), and is written by the *composer* registered under ``composer``. ``slot`` tells apart the
    messages one composer writes about one subject (a reminder 3 days before, one 1 day before).
    The idempotency key is made of exactly those columns (``storage.outbox.idempotency_key``), so
    planning the same message twice is a no-op, and the subject's own rule decides when a row is
    stale (``bot.outbox.composers.SubjectRule``).
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_due", "status", "due_at"),
        Index("ix_outbox_recipient", "recipient_kind", "recipient_id"),
        Index("ix_outbox_subject", "subject_kind", "subject_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(500), unique=True)
    recipient_kind: Mapped[RecipientKind] = mapped_column(String(16))
    recipient_id: Mapped[int | None]
    recipient_address: Mapped[str | None] = mapped_column(String(320))
    channel: Mapped[Channel] = mapped_column(String(16))
    subject_kind: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[int | None]
    subject_version: Mapped[int | None]
    composer: Mapped[str] = mapped_column(String(48))
    slot: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    due_at: Mapped[datetime]
    status: Mapped[OutboxStatus] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]


class Activity(Base):
    """A weekly group activity (a language café, a work-training group) that participants enrol in.

    Its sessions are not stored: they follow from its weekly rules in local time, between
    ``starts_on`` and ``ends_on``, without Swedish public holidays unless ``on_holidays``
    (``bot/features/activities/schedule.py``). Only cancelled sessions are stored.
    """

    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200))
    place: Mapped[str] = mapped_column(String(200))
    duration_minutes: Mapped[int]
    starts_on: Mapped[date]
    ends_on: Mapped[date | None]
    on_holidays: Mapped[bool]
    # When its participants' weekly practice check-in comes; None: STEGVIS_CHECKIN_TIME.
    checkin_weekday: Mapped[int | None]
    checkin_time: Mapped[time | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    rules: Mapped[list[ActivityRule]] = relationship(order_by="(ActivityRule.weekday, ActivityRule.local_time)", lazy="selectin")


class ActivityRule(Base):
    """One weekly session of an activity: a weekday (0 Monday … 6 Sunday) and a local time."""

    __tablename__ = "activity_rules"
    __table_args__ = (UniqueConstraint("activity_id", "weekday", "local_time"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"), index=True)
    weekday: Mapped[int]
    local_time: Mapped[time]


class Enrolment(Base):
    """A participant takes part in an activity from ``from_date`` until the day before ``left_date``."""

    __tablename__ = "enrolments"
    __table_args__ = (Index("ix_enrolments_activity_participant", "activity_id", "participant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    from_date: Mapped[date]
    left_date: Mapped[date | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CancelledSession(Base):
    """The sessions of an activity on one local date are cancelled (a holiday trip, a leader ill)."""

    __tablename__ = "cancelled_sessions"
    __table_args__ = (UniqueConstraint("activity_id", "local_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"))
    local_date: Mapped[date]
    reason: Mapped[str | None] = mapped_column(String(200))
    cancelled_at: Mapped[datetime]


class Leader(Base):
    """Someone at a partner organisation who takes the roll call of their activities from Telegram.

    A leader is not a participant: they see only their own activities' participants, by first
    name and initial. They link their Telegram account with a personal invite code, like a
    participant's.
    """

    __tablename__ = "leaders"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(10))
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    # The SHA-256 of their link's code, never the code (migration 0012): the link is shown once.
    invite_code_hash: Mapped[str | None] = mapped_column("invite_code", String(64), unique=True)
    invite_expires_at: Mapped[datetime | None]
    invite_used_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LeaderActivity(Base):
    """A leader leads an activity (and so takes its roll call)."""

    __tablename__ = "leader_activities"

    leader_id: Mapped[int] = mapped_column(ForeignKey("leaders.id"), primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"), primary_key=True, index=True)


class Attendance(Base):
    """What happened at one session: the participant was there or not (the roll call).

    A participant's own answer to "coming today?" is a *report* (an event); this is what the
    leader, or staff on the CLI, recorded. Both are kept when they disagree. A row is changed in
    place when the roll call is corrected; each change is also an ``attendance_recorded`` event.
    """

    __tablename__ = "attendance"
    __table_args__ = (
        UniqueConstraint("activity_id", "local_date", "participant_id"),
        Index("ix_attendance_local_date", "local_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"))
    local_date: Mapped[date]
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    present: Mapped[bool]
    # Who recorded it: "leader:<id>" or "cli:<OS user>".
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime]


class CheckIn(Base):
    """One weekly practice check-in of one participant: when it was sent, nudged, answered.

    The answers themselves are events (``checkin_*``); the columns here repeat the latest ones so
    a report reads one row per check-in. ``week`` is the Monday of the check-in's ISO week.
    """

    __tablename__ = "checkins"
    __table_args__ = (
        UniqueConstraint("participant_id", "week"),
        Index("ix_checkins_week", "week"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"))
    week: Mapped[date]
    sent_at: Mapped[datetime]
    nudged_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    unanswered_at: Mapped[datetime | None]
    practice: Mapped[str | None] = mapped_column(String(16))  # a_lot | a_little | not_this_week
    places: Mapped[list[str] | None] = mapped_column(JSON)
    confidence: Mapped[int | None]  # 1 (😟) … 5 (😄)
    voice_notes: Mapped[int] = mapped_column(default=0)


class DigestChannel(str, enum.Enum):
    TELEGRAM = "telegram"
    EMAIL = "email"


class DigestStatus(str, enum.Enum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    NOTHING = "nothing"  # an empty day with STEGVIS_DIGEST_EMPTY=nothing: recorded, nothing sent


class Digest(Base):
    """One caseworker's digest of one day over one channel: created once (the unique key) at the
    digest time, then sent. A Telegram digest is sent by the outbox (its row is about this one);
    an email digest over SMTP, with `attempts` counted here."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("caseworker_id", "day", "channel"), Index("ix_digests_day", "day"))

    id: Mapped[int] = mapped_column(primary_key=True)
    caseworker_id: Mapped[int] = mapped_column(ForeignKey("caseworkers.id"))
    day: Mapped[date]  # the local date it is the digest of
    channel: Mapped[str] = mapped_column(String(16))  # DigestChannel
    status: Mapped[str] = mapped_column(String(16))  # DigestStatus
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    next_attempt_at: Mapped[datetime | None]  # email: when to try again after a failure
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class FlowVersion(Base):
    """One published version of a flow: the file's text as published, who published it, when and why.

    Version 1 of every flow is the file shipped in ``flows/definitions/``; published versions are
    numbered from 2 and never change. The live version is the newest; a rollback publishes an
    older text again as a new version, so this table is the whole history.
    """

    __tablename__ = "flow_versions"
    __table_args__ = (UniqueConstraint("flow", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    flow: Mapped[str] = mapped_column(String(16))
    version: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(String(500))
    published_by: Mapped[str] = mapped_column(String(64))  # the OS user at the command line, or another actor's name
    published_at: Mapped[datetime]
    rollback_of: Mapped[int | None]  # the version whose text this one publishes again


class LiveContent(Base):
    """A counter per kind of content that running bots reload without a restart (flows, translations).

    Whoever changes such content raises its kind's revision in the same transaction
    (``storage.live_content.bump``); every ``stegvis run`` polls the counters and reloads a kind
    whose revision moved.
    """

    __tablename__ = "live_content"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    revision: Mapped[int]
    changed_at: Mapped[datetime]
class Translation(Base):
    """A translation imported by ``stegvis translations import``: read by the running bot's catalogs
    on top of the ``.po`` files, so it is live without a restart. One row per language and text;
    an import of the same text again replaces it. `revision` is the import that wrote it: the
    highest one tells a running bot whether there is anything new to read."""

    __tablename__ = "translations"
    __table_args__ = (UniqueConstraint("language", "msgid"), Index("ix_translations_revision", "revision"))

    id: Mapped[int] = mapped_column(primary_key=True)
    language: Mapped[str] = mapped_column(String(16))  # a code of locales.LANGUAGES
    msgid: Mapped[str] = mapped_column(Text)  # the Swedish text (the singular of a plural message)
    msgid_plural: Mapped[str | None] = mapped_column(Text)
    strings: Mapped[list[str]] = mapped_column(JSON)  # one, or one per plural form of the language
    unreviewed: Mapped[bool] = mapped_column(default=False)  # still a draft no translator has checked
    revision: Mapped[int]
    source: Mapped[str] = mapped_column(String(200))  # the file's name, for whoever asks where it came from
    imported_at: Mapped[datetime]


class AccessLog(Base):
    """One time staff were shown participants' personal data: who, what, when (issue 9).

    Append-only: the database refuses UPDATE and DELETE on this table and on
    `access_log_participants` (triggers of migration 0012, on SQLite and PostgreSQL). `actor` is
    ``caseworker:<id>`` for a caseworker (a digest on Telegram or by email) or ``cli:<OS user>``
    for a command; `what` names the listing (``participant.list``, ``digest.send`` …), `detail`
    its scope in a few words (a day, a channel, a month). Which participants it showed are rows
    of `AccessLogParticipant`, so "who looked at this person" is one indexed read.
    """

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_at", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    what: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(200))


class AccessLogParticipant(Base):
    """A participant an access-log row showed. No foreign key to `participants`: the record of who
    looked outlives an erasure (it holds an id, never a name), and the log can never be edited."""

    __tablename__ = "access_log_participants"
    __table_args__ = (Index("ix_access_log_participants_participant", "participant_id", "log_id"),)

    log_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), ForeignKey("access_log.id"), primary_key=True)
    participant_id: Mapped[int] = mapped_column(primary_key=True)
