"""Settings from the environment (and an optional ``.env``); a wrong value stops start-up with one line.

Names are the documented ones: ``STEGVIS_*`` for Stegvis itself, ``TELEGRAM_*`` for the bot.
"""

from __future__ import annotations

import re
from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.reminders.timing import DEFAULT_LEAD_TIMES, DEFAULT_QUIET_HOURS, LeadTime, QuietHours, parse_lead_times

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/stegvis.sqlite3"
TELEGRAM_API = "https://api.telegram.org"
_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias="STEGVIS_DATABASE_URL")
    telegram_bot_token: str | None = Field(None, validation_alias="TELEGRAM_BOT_TOKEN")
    telegram_api_url: str = Field(TELEGRAM_API, validation_alias="TELEGRAM_API_URL")
    telegram_bot_username: str | None = Field(None, validation_alias="TELEGRAM_BOT_USERNAME")
    timezone: str = Field("Europe/Stockholm", validation_alias="STEGVIS_TIMEZONE")
    invite_days: int = Field(14, ge=1, le=365, validation_alias="STEGVIS_INVITE_DAYS")
    webhook_secret: str | None = Field(None, validation_alias="STEGVIS_WEBHOOK_SECRET")
    webhook_listen: str = Field("127.0.0.1:8080", validation_alias="STEGVIS_WEBHOOK_LISTEN")
    reminder_lead_times: str = Field(DEFAULT_LEAD_TIMES, validation_alias="STEGVIS_REMINDER_LEAD_TIMES")
    quiet_hours: str = Field(DEFAULT_QUIET_HOURS, validation_alias="STEGVIS_QUIET_HOURS")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
            raise ValueError("use sqlite:///path/file.sqlite3 or postgresql://user@host/database")
        return value

    @field_validator("telegram_bot_token")
    @classmethod
    def _token(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not _TOKEN.match(value):
            raise ValueError("does not look like a bot token (digits, a colon, then letters and digits), e.g. 123456:ABC-DEF...")
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

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def lead_times(self) -> tuple[LeadTime, ...]:
        return parse_lead_times(self.reminder_lead_times)

    @cached_property
    def quiet(self) -> QuietHours | None:
        return QuietHours.parse(self.quiet_hours)


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
        # Never echo a secret back into a log.
        shown = "" if variable in _SECRETS else f" (got {first.get('input')!r})"
        raise SettingsError(f"{variable}: {message}{shown}") from None


_SECRETS = {"TELEGRAM_BOT_TOKEN", "STEGVIS_WEBHOOK_SECRET"}
