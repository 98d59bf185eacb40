"""Settings: each bad value stops start-up with one line naming the variable, and no secret is ever shown."""

from __future__ import annotations

import pytest

from bot.config import TELEGRAM_API, SettingsError, check_webhook_url, load_settings

PASSWORD = "hunter2"


def _refused(**overrides: object) -> str:
    with pytest.raises(SettingsError) as raised:
        load_settings(**overrides)
    message = str(raised.value)
    assert "\n" not in message
    return message


# The database URL


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mysql://admin:hunter2@db.example/stegvis", "mysql://admin:***@db.example/stegvis"),
        ("postgresql+psycopg2://admin:hunter2@db.example/stegvis", "postgresql+psycopg2://admin:***@db.example/stegvis"),
        ("postgresql://admin:hunter2@db.example:port/stegvis", "postgresql://admin:***@db.example:port/stegvis"),
    ],
)
def test_a_wrong_database_url_is_shown_with_its_password_masked(url: str, shown: str) -> None:
    message = _refused(database_url=url)
    assert message == f"STEGVIS_DATABASE_URL: use sqlite:///path/file.sqlite3 or postgresql://user@host/database (got {shown!r})"
    assert PASSWORD not in message


def test_a_wrong_database_url_without_a_password_is_shown_as_given() -> None:
    assert _refused(database_url="mysql://x") == (
        "STEGVIS_DATABASE_URL: use sqlite:///path/file.sqlite3 or postgresql://user@host/database (got 'mysql://x')"
    )


@pytest.mark.parametrize(
    "url", ["sqlite:///var/s.sqlite3", "sqlite+pysqlite:///var/s.sqlite3", "postgres://u:p@h/db", "postgresql+asyncpg://u@h/db"]
)
def test_every_url_stegvis_can_open_is_accepted(url: str) -> None:
    assert load_settings(database_url=url).database_url == url


def test_settings_never_show_secrets_in_their_repr() -> None:
    settings = load_settings(
        database_url=f"postgresql://admin:{PASSWORD}@db/stegvis",
        telegram_bot_token="123456:hunter2token",
        webhook_secret="hunter2-secret",
    )
    assert PASSWORD not in repr(settings)


# Telegram's token and the webhook secret


def test_a_token_with_a_trailing_newline_is_refused() -> None:
    message = _refused(telegram_bot_token="123456:ABC-hunter2\n")
    assert message.startswith("TELEGRAM_BOT_TOKEN: ") and PASSWORD not in message


@pytest.mark.parametrize("secret", ["a", "A-z_09", "x" * 256])
def test_a_webhook_secret_by_telegrams_rule_is_accepted(secret: str) -> None:
    assert load_settings(webhook_secret=secret).webhook_secret == secret


def test_an_empty_webhook_secret_means_a_random_one_per_start() -> None:
    assert load_settings(webhook_secret="").webhook_secret is None


@pytest.mark.parametrize(
    "secret", ["hunter2" + "x" * 250, "hunter2 with spaces", "hunter2;", "hunter2åäö", "hunter2\n", "hunter2/+="]
)
def test_a_webhook_secret_telegram_would_refuse_stops_start_up_unechoed(secret: str) -> None:
    message = _refused(webhook_secret=secret)
    assert message == (
        "STEGVIS_WEBHOOK_SECRET: must be 1 to 256 characters, each a letter A-Z or a-z, a digit, _ or - (Telegram's rule)"
    )


@pytest.mark.parametrize("listen", ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", ":8080", "127.0.0.1:http"])
def test_a_webhook_listen_address_needs_host_and_port(listen: str) -> None:
    assert _refused(webhook_listen=listen) == f"STEGVIS_WEBHOOK_LISTEN: use HOST:PORT, e.g. 127.0.0.1:8080 (got {listen!r})"


# The webhook URL given to `stegvis run --webhook`


@pytest.mark.parametrize(
    "url",
    [
        "https://bot.example.se/telegram",
        "https://bot.example.se",
        "https://bot.example.se:8443/telegram?from=telegram",
        "https://bot.example.se:88/t",
        "https://203.0.113.7:443/t",
    ],
)
def test_a_webhook_url_telegram_posts_to_is_accepted(url: str) -> None:
    assert check_webhook_url(url) == url


FIX = "give --webhook a URL such as https://bot.example.se/telegram"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://bot.example.se/hunter2", "must start with https:// (Telegram posts only to HTTPS)"),
        ("ftp://bot.example.se/hunter2", "must start with https:// (Telegram posts only to HTTPS)"),
        ("bot.example.se/hunter2", "must start with https:// (Telegram posts only to HTTPS)"),
        ("", "must start with https:// (Telegram posts only to HTTPS)"),
        ("https:///hunter2", "has no host name"),
        ("https://bot.example.se/hunter2#top", "must not end in a #fragment"),
        ("https://bot.example.se/hunter2#", "must not end in a #fragment"),
        ("https://bot.example.se:8080/hunter2", "uses port 8080, but Telegram posts only to ports 443, 80, 88 or 8443"),
        ("https://bot.example.se:hunter2/", "is not a URL with a valid port"),
        ("https://admin:hunter2@bot.example.se/", "must not contain a user name or password"),
        ("https://bot.example.se/hunter2 /x", "contains spaces or control characters"),
    ],
)
def test_a_webhook_url_telegram_would_refuse_is_named_without_echoing_it(url: str, problem: str) -> None:
    with pytest.raises(SettingsError) as raised:
        check_webhook_url(url)
    assert str(raised.value) == f"the webhook URL {problem}; {FIX}"


def test_a_self_hosted_bot_api_server_may_post_over_http_to_any_port() -> None:
    local = "http://127.0.0.1:8081"
    assert check_webhook_url("http://127.0.0.1:9000/telegram", api_url=local) == "http://127.0.0.1:9000/telegram"
    with pytest.raises(SettingsError, match="#fragment"):
        check_webhook_url("http://127.0.0.1:9000/telegram#x", api_url=local)
    with pytest.raises(SettingsError, match="https://"):
        check_webhook_url("http://127.0.0.1:9000/telegram", api_url=TELEGRAM_API + "/")


# When the "coming today?" question goes out


def test_the_activity_question_time_is_a_local_time() -> None:
    from datetime import time

    assert load_settings().activity_question_at == time(8, 0)
    assert load_settings(activity_question_time="7:45").activity_question_at == time(7, 45)


@pytest.mark.parametrize("value", ["25:00", "8", "08:00-09:00", ""])
def test_a_wrong_activity_question_time_is_named(value: str) -> None:
    message = _refused(activity_question_time=value)
    assert "STEGVIS_ACTIVITY_QUESTION_TIME" in message
