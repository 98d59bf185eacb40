"""Settings from the environment (and an optional ``.env``); a wrong value stops start-up with one line.

Names are the documented ones: ``STEGVIS_*`` for Stegvis itself, ``TELEGRAM_*`` for the bot. The
webhook URL, given on the command line, is checked here too (``check_webhook_url``). No message
ever shows the token, the webhook secret or a password.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, time
from typing import Literal
from functools import cached_property
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.features.appointments.timing import DEFAULT_LEAD_TIMES, LeadTime, parse_lead_times
from bot.outbox.quiet_hours import DEFAULT_QUIET_HOURS, QuietHours
from bot.validation import parse_time
from storage.clock import SYSTEM_CLOCK, Clock, FrozenClock
from storage.database import DEFAULT_DATABASE_URL, UnsupportedDatabaseURL, mask_url, parse_url

__all__ = ["DEFAULT_DATABASE_URL", "TELEGRAM_API", "Settings", "SettingsError", "check_webhook_url", "load_settings"]

TELEGRAM_API = "https://api.telegram.org"
_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]+")
# Telegram's rule for setWebhook's secret_token.
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
# The only ports Telegram posts webhook updates to.
_WEBHOOK_PORTS = (443, 80, 88, 8443)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # repr=False: a logged Settings must not show a password, the token or the webhook secret.
    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias="STEGVIS_DATABASE_URL", repr=False)
    telegram_bot_token: str | None = Field(None, validation_alias="TELEGRAM_BOT_TOKEN", repr=False)
    telegram_api_url: str = Field(TELEGRAM_API, validation_alias="TELEGRAM_API_URL")
    telegram_bot_username: str | None = Field(None, validation_alias="TELEGRAM_BOT_USERNAME")
    timezone: str = Field("Europe/Stockholm", validation_alias="STEGVIS_TIMEZONE")
    invite_days: int = Field(14, ge=1, le=365, validation_alias="STEGVIS_INVITE_DAYS")
    webhook_secret: str | None = Field(None, validation_alias="STEGVIS_WEBHOOK_SECRET", repr=False)
    webhook_listen: str = Field("127.0.0.1:8080", validation_alias="STEGVIS_WEBHOOK_LISTEN")
    reminder_lead_times: str = Field(DEFAULT_LEAD_TIMES, validation_alias="STEGVIS_REMINDER_LEAD_TIMES")
    quiet_hours: str = Field(DEFAULT_QUIET_HOURS, validation_alias="STEGVIS_QUIET_HOURS")
    # When the "coming today?" question about a group activity goes out on the session's day
    # (local time; later when quiet hours last, never less than an hour before the session).
    activity_question_time: str = Field("08:00", validation_alias="STEGVIS_ACTIVITY_QUESTION_TIME")
    # When the weekly practice check-in goes out by default: a weekday and a local time.
    checkin_time: str = Field("fri 14:00", validation_alias="STEGVIS_CHECKIN_TIME")
    # The outbox sender (bot/sender.py). Telegram allows about 30 messages a second in bulk and
    # about one a second per chat; the defaults stay under both. The rate is per process.
    send_rate: float = Field(25.0, validation_alias="STEGVIS_SEND_RATE")
    send_rate_per_chat: float = Field(1.0, validation_alias="STEGVIS_SEND_RATE_PER_CHAT")
    send_max_attempts: int = Field(5, validation_alias="STEGVIS_SEND_MAX_ATTEMPTS")
    send_interval: float = Field(2.0, validation_alias="STEGVIS_SEND_INTERVAL")
    # A message claimed longer ago than this by a process that stopped renewing its claim (it
    # died) is handed to another sender. Renewed every third of it while the process lives.
    send_lease: float = Field(60.0, validation_alias="STEGVIS_SEND_LEASE")
    # For tests and demonstrations only: the moment Stegvis takes as now, and keeps (it does not move).
    frozen_time: datetime | None = Field(None, validation_alias="STEGVIS_FROZEN_TIME")
    # --- The caseworker's daily digest (bot/features/digest, docs/digest.md) ---
    # STEGVIS_DIGEST_TIME is with the delivery's settings below; the window runs from the previous
    # digest moment to this day's.
    # "No answer to anything" for this many days puts a participant under *Needs action*.
    digest_quiet_days: int = Field(7, ge=1, le=90, validation_alias="STEGVIS_DIGEST_QUIET_DAYS")
    # An empty day: one line ("line") or no digest at all ("nothing").
    digest_empty: Literal["line", "nothing"] = Field("line", validation_alias="STEGVIS_DIGEST_EMPTY")
    # Email may leave the municipality unencrypted: first names and ids only, unless this is true.
    digest_email_full_names: bool = Field(False, validation_alias="STEGVIS_DIGEST_EMAIL_FULL_NAMES")
    # Where the email digest says the full digest is read.
    digest_full_at: str = Field("stegvis digest show, or Stegvis in Telegram", validation_alias="STEGVIS_DIGEST_FULL_AT")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        # The same check Database makes, so an unsupported driver stops start-up here already.
        try:
            parse_url(value)
        except UnsupportedDatabaseURL:
            raise ValueError("use sqlite:///path/file.sqlite3 or postgresql://user@host/database") from None
        return value

    @field_validator("telegram_bot_token")
    @classmethod
    def _token(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not _TOKEN.fullmatch(value):
            raise ValueError("does not look like a bot token (digits, a colon, then letters and digits), e.g. 123456:ABC-DEF...")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None  # a random one per start
        if not _WEBHOOK_SECRET.fullmatch(value):
            raise ValueError("must be 1 to 256 characters, each a letter A-Z or a-z, a digit, _ or - (Telegram's rule)")
        return value

    @field_validator("telegram_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http(s) URL such as https://api.telegram.org")
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Stockholm") from None
        return value

    @field_validator("webhook_listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("use HOST:PORT, e.g. 127.0.0.1:8080")
        return value

    @field_validator("reminder_lead_times")
    @classmethod
    def _lead_times(cls, value: str) -> str:
        parse_lead_times(value)
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        QuietHours.parse(value)
        return value

    @field_validator("activity_question_time")
    @classmethod
    def _activity_question_time(cls, value: str) -> str:
        parse_time(value)
        return value

    @field_validator("checkin_time")
    @classmethod
    def _checkin_time(cls, value: str) -> str:
        from bot.features.activities.parsing import parse_weekly

        parse_weekly(value)  # "fri 14:00", "fredag 14:00"; its ValueError says what is wrong
        return value

    @field_validator("send_rate", mode="before")
    @classmethod
    def _send_rate(cls, value: object) -> float:
        return _number(value, "messages a second, e.g. 25", low=0, high=1000)

    @field_validator("send_rate_per_chat", mode="before")
    @classmethod
    def _send_rate_per_chat(cls, value: object) -> float:
        return _number(value, "messages a second to one chat, e.g. 1", low=0, high=30)

    @field_validator("send_max_attempts", mode="before")
    @classmethod
    def _send_max_attempts(cls, value: object) -> int:
        number = _number(value, "tries before a message is marked failed, e.g. 5", low=0, high=100)
        if number != int(number):
            raise ValueError("must be a whole number of tries before a message is marked failed, e.g. 5")
        return int(number)

    @field_validator("send_interval", mode="before")
    @classmethod
    def _send_interval(cls, value: object) -> float:
        return _number(value, "seconds between two looks at the outbox, e.g. 2", low=0, high=3600)

    @field_validator("send_lease", mode="before")
    @classmethod
    def _send_lease(cls, value: object) -> float:
        number = _number(value, "seconds, e.g. 60", low=0, high=86400)
        if number < 1:
            raise ValueError("must be at least 1 second, e.g. 60")
        return number

    @field_validator("frozen_time")
    @classmethod
    def _frozen_time(cls, value: datetime | None) -> datetime | None:
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise ValueError("must have a UTC offset, e.g. 2029-06-01T12:00+02:00")
        return value

    @cached_property
    def clock(self) -> Clock:
        return FrozenClock(self.frozen_time) if self.frozen_time is not None else SYSTEM_CLOCK

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def lead_times(self) -> tuple[LeadTime, ...]:
        return parse_lead_times(self.reminder_lead_times)

    @cached_property
    def activity_question_at(self) -> time:
        return parse_time(self.activity_question_time)

    @cached_property
    def checkin_at(self) -> tuple[int, time]:
        """(weekday 0 Monday … 6, local time) of the default weekly check-in."""
        from bot.features.activities.parsing import parse_weekly

        rule = parse_weekly(self.checkin_time)
        return rule.weekday, rule.at

    @cached_property
    def quiet(self) -> QuietHours | None:
        return QuietHours.parse(self.quiet_hours)

    # ---- the digest's delivery (bot/features/digest_delivery, bot/email): one block, for merges ----
    # When the caseworkers' digest goes out on weekdays that are not Swedish public holidays (local time).
    digest_time: str = Field("07:30", validation_alias="STEGVIS_DIGEST_TIME")
    # The SMTP server email digests go through; no host: no email is sent (Telegram and the CLI still are).
    smtp_host: str | None = Field(None, validation_alias="STEGVIS_SMTP_HOST")
    smtp_port: int = Field(587, ge=1, le=65535, validation_alias="STEGVIS_SMTP_PORT")
    smtp_starttls: bool = Field(True, validation_alias="STEGVIS_SMTP_STARTTLS")
    smtp_user: str | None = Field(None, validation_alias="STEGVIS_SMTP_USER")
    smtp_password: str | None = Field(None, validation_alias="STEGVIS_SMTP_PASSWORD", repr=False)
    smtp_from: str | None = Field(None, validation_alias="STEGVIS_SMTP_FROM")

    @field_validator("digest_time")
    @classmethod
    def _digest_time(cls, value: str) -> str:
        parse_time(value)
        return value

    @field_validator("smtp_host", "smtp_user", "smtp_password", "smtp_from")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value if value not in (None, "") else None

    @field_validator("smtp_from")
    @classmethod
    def _smtp_from(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+", value):
            raise ValueError("must be one email address, e.g. stegvis@kommun.se")
        return value

    @property
    def digest_at(self) -> time:
        return parse_time(self.digest_time)

    @property
    def smtp_configured(self) -> bool:
        """Email digests are sent only with a server and a sender address."""
        return self.smtp_host is not None and self.smtp_from is not None

    # ---- leaving: retention (bot/features/leaving, docs/privacy.md): one block, for merges ----
    # Months after a participant finished or stopped before the housekeeping job erases them. The
    # privacy notice shows the same number ({retention_months}), so the two cannot disagree.
    retention_months: int = Field(12, validation_alias="STEGVIS_RETENTION_MONTHS")

    @field_validator("retention_months", mode="before")
    @classmethod
    def _retention_months(cls, value: object) -> int:
        text = str(value).strip()
        if isinstance(value, bool) or not text.isdigit() or not 1 <= int(text) <= 120:
            raise ValueError("must be a whole number of months from 1 to 120, e.g. 12")
        return int(text)


def _number(value: object, unit: str, *, low: float, high: float) -> float:
    """A number in (low, high]; the error names the unit so the one-line message says what is wanted."""
    try:
        number = float(str(value).strip()) if not isinstance(value, (int, float)) else float(value)
    except ValueError:
        raise ValueError(f"must be a number of {unit}") from None
    # float() takes "nan" and "inf", which would stall or flood the sender.
    if not math.isfinite(number) or isinstance(value, bool):
        raise ValueError(f"must be a number of {unit}")
    if number <= low:
        raise ValueError(f"must be more than {low:g}: a number of {unit}")
    if number > high:
        raise ValueError(f"must be at most {high:g}: a number of {unit}")
    return number


class SettingsError(Exception):
    """A configuration value that stops start-up; str() is one line naming the variable."""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as error:
        first = error.errors()[0]
        field = first["loc"][0] if first["loc"] else "?"
        info = Settings.model_fields.get(str(field))
        variable = info.validation_alias if info and info.validation_alias else field
        message = str(first["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"{variable}: {message}{_shown(str(variable), first.get('input'))}") from None


# Never echo a secret back into a log; URLs are shown with their password masked.
_SECRETS = {"TELEGRAM_BOT_TOKEN", "STEGVIS_WEBHOOK_SECRET", "STEGVIS_SMTP_PASSWORD"}
_URLS = {"STEGVIS_DATABASE_URL", "TELEGRAM_API_URL"}


def _shown(variable: str, value: object) -> str:
    if variable in _SECRETS:
        return ""
    if variable in _URLS and isinstance(value, str):
        value = mask_url(value)
    return f" (got {value!r})"


def check_webhook_url(url: str, *, api_url: str = TELEGRAM_API) -> str:
    """The URL Telegram is to post updates to, if it meets Telegram's rules; else SettingsError.

    A self-hosted Bot API server (``api_url`` other than Telegram's) may post over plain http to
    any port, so only Telegram's own server gets the https and port rules. The URL is never
    echoed: its path may carry a secret.
    """
    fix = "give --webhook a URL such as https://bot.example.se/telegram"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise SettingsError(f"the webhook URL is not a URL with a valid port; {fix}") from None
    if any(char.isspace() or not char.isprintable() for char in url):
        raise SettingsError(f"the webhook URL contains spaces or control characters; {fix}")
    strict = api_url.rstrip("/") == TELEGRAM_API
    if parts.scheme != "https" and (strict or parts.scheme != "http"):
        raise SettingsError(f"the webhook URL must start with https:// (Telegram posts only to HTTPS); {fix}")
    if not parts.hostname:
        raise SettingsError(f"the webhook URL has no host name; {fix}")
    if parts.username is not None or parts.password is not None:
        raise SettingsError(f"the webhook URL must not contain a user name or password; {fix}")
    if parts.fragment or url.endswith("#"):
        raise SettingsError(f"the webhook URL must not end in a #fragment; {fix}")
    if strict and port is not None and port not in _WEBHOOK_PORTS:
        raise SettingsError(f"the webhook URL uses port {port}, but Telegram posts only to ports 443, 80, 88 or 8443; {fix}")
    return url
