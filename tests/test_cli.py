"""The stegvis command: admin commands with --json, and one clear line for each bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import SettingsError, load_settings


def stegvis(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": "/usr/bin:/bin", "STEGVIS_DATABASE_URL": f"sqlite:///{tmp_path}/cli.sqlite3", **env}
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=60)


def test_caseworker_and_participant_add_print_one_json_object_each(tmp_path: Path):
    added = json.loads(stegvis(tmp_path, "caseworker", "add", "--name", "Karin Lund", "--email", "karin@example.se", "--json").stdout)
    assert added == {"caseworker_id": 1, "name": "Karin Lund", "email": "karin@example.se"}
    result = stegvis(tmp_path, "participant", "add", "--name", "Zahra", "--caseworker", "1", "--language", "prs", "--json", TELEGRAM_BOT_USERNAME="stegvis_bot")
    participant = json.loads(result.stdout)
    assert participant["language"] == "fa_AF"
    code = participant["invite_code"]
    assert 1 <= len(code) <= 64 and all(c.isalnum() or c in "_-" for c in code)
    assert participant["link"] == f"https://t.me/stegvis_bot?start={code}"
    listing = json.loads(stegvis(tmp_path, "participant", "list", "--json").stdout)
    assert listing["participants"] == [
        {"participant_id": 1, "name": "Zahra", "caseworker_id": 1, "language": "fa_AF", "status": "invited", "connected": False}
    ]


def test_invite_codes_are_unique_and_unguessable(tmp_path: Path):
    stegvis(tmp_path, "caseworker", "add", "--name", "K")
    codes = {json.loads(stegvis(tmp_path, "participant", "add", "--name", f"P{i}", "--caseworker", "1", "--json").stdout)["invite_code"] for i in range(3)}
    assert len(codes) == 3 and all(len(code) >= 40 for code in codes)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["participant", "add", "--name", "A", "--caseworker", "9", "--json"], "--caseworker: no caseworker with id 9 (see: stegvis caseworker add)"),
        (["participant", "add", "--name", "A", "--caseworker", "1", "--language", "en", "--json"], "--language: unknown language 'en': use one of sv ar so fa_AF ti (prs for Dari)"),
        (["participant", "add", "--name", "  ", "--caseworker", "1", "--json"], "--name must not be empty"),
        (["caseworker", "add", "--name", "x" * 201, "--json"], "--name is longer than 200 characters"),
    ],
)
def test_a_bad_admin_input_gets_a_json_error_and_exit_code_2(tmp_path: Path, args: list[str], error: str):
    stegvis(tmp_path, "caseworker", "add", "--name", "K")
    result = stegvis(tmp_path, *args)
    assert result.returncode == 2
    assert json.loads(result.stdout) == {"error": error}


def test_a_bad_admin_input_without_json_is_one_line_on_stderr(tmp_path: Path):
    result = stegvis(tmp_path, "participant", "add", "--name", "A", "--caseworker", "3")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == "stegvis: --caseworker: no caseworker with id 3 (see: stegvis caseworker add)\n"


def test_run_without_a_token_says_how_to_get_one_and_points_to_the_demo(tmp_path: Path):
    result = stegvis(tmp_path, "run")
    assert result.returncode == 2
    assert "@BotFather" in result.stderr and "stegvis demo" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "line"),
    [
        ("STEGVIS_TIMEZONE", "Europe/Stokholm", "STEGVIS_TIMEZONE: unknown time zone 'Europe/Stokholm'; use an IANA name such as Europe/Stockholm (got 'Europe/Stokholm')"),
        ("STEGVIS_DATABASE_URL", "mysql://x", "STEGVIS_DATABASE_URL: use sqlite:///path/file.sqlite3 or postgresql://user@host/database (got 'mysql://x')"),
        ("TELEGRAM_API_URL", "api.telegram.org", "TELEGRAM_API_URL: must be an http(s) URL such as https://api.telegram.org (got 'api.telegram.org')"),
        ("STEGVIS_INVITE_DAYS", "0", "STEGVIS_INVITE_DAYS: Input should be greater than or equal to 1 (got '0')"),
        ("STEGVIS_QUIET_HOURS", "20-08", 'STEGVIS_QUIET_HOURS: bad quiet hours "20-08": use HH:MM-HH:MM, e.g. 20:00-08:00, or leave it empty for none (got \'20-08\')'),
    ],
)
def test_a_wrong_setting_stops_start_up_with_one_line_naming_the_variable(tmp_path: Path, variable: str, value: str, line: str):
    result = stegvis(tmp_path, "participant", "list", **{variable: value})
    assert result.returncode == 2
    assert result.stderr == f"stegvis: configuration error: {line}\n"


def test_a_wrong_token_is_named_but_never_echoed(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "not-a-token-secret")
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert str(error.value).startswith("TELEGRAM_BOT_TOKEN: ") and "secret" not in str(error.value)


def test_the_defaults_need_no_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)  # no .env here
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///./var/stegvis.sqlite3"
    assert settings.timezone == "Europe/Stockholm" and settings.telegram_bot_token is None
    assert [str(lead) for lead in settings.lead_times] == ["3d", "1d"]
