"""The stegvis command: admin commands with --json, and one clear line for each bad input.

The commands run as a caseworker runs them (``python -m bot`` in a subprocess) at a frozen
moment (STEGVIS_FROZEN_TIME), so nothing here depends on today's date.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import SettingsError, load_settings
from storage import repositories as repo
from storage.database import Database
from storage.models import Invite
from tests.harness import free_port

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2029, 6, 1, 10, 0, tzinfo=timezone.utc)
PASSWORD = "hunter2"
CHAT = 100_200_300_400


def stegvis(tmp_path: Path, *args: str, prefix: tuple[str, ...] = (), **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "STEGVIS_DATABASE_URL": f"sqlite:///{tmp_path}/cli.sqlite3",
        "STEGVIS_FROZEN_TIME": NOW.isoformat(),
        **env,
    }
    return subprocess.run([*prefix, sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=60)


def as_json(result: subprocess.CompletedProcess[str]) -> dict:
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout + result.stderr  # exactly one JSON object
    return json.loads(lines[0])


def refused(result: subprocess.CompletedProcess[str]) -> dict:
    """The one JSON object of a refusal (exit code 2), with nothing on stderr."""
    assert (result.returncode, result.stderr) == (2, ""), result.stdout + result.stderr
    return as_json(result)


def refused_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one line on stderr of a refusal without --json (exit code 2), with nothing on stdout."""
    assert (result.returncode, result.stdout) == (2, ""), result.stdout + result.stderr
    assert result.stderr.endswith("\n") and result.stderr.count("\n") == 1, result.stderr
    return result.stderr.removesuffix("\n")


def refuses_with(tmp_path: Path, args: tuple[str, ...], line: str, **options: Any) -> str:
    """The command without and with --json: the same one line, on stderr or as {"error": ...}; all it printed."""
    plain = stegvis(tmp_path, *args, **options)
    as_object = stegvis(tmp_path, *args, "--json", **options)
    assert refused_line(plain) == f"stegvis: {line}"
    assert refused(as_object) == {"error": line}
    return plain.stdout + plain.stderr + as_object.stdout + as_object.stderr


def add_caseworker(tmp_path: Path, **env: str) -> None:
    result = stegvis(tmp_path, "caseworker", "add", "--name", "K", **env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_caseworker_and_participant_add_print_one_json_object_each(tmp_path: Path):
    added = as_json(stegvis(tmp_path, "caseworker", "add", "--name", "Karin Lund", "--email", "karin@example.se", "--json"))
    code = added.pop("invite_code")
    assert code.startswith("case-") and len(code) <= 64  # a caseworker's own Telegram invite, never a participant's or leader's
    assert added == {"caseworker_id": 1, "name": "Karin Lund", "email": "karin@example.se", "invite_expires_at": (NOW + timedelta(days=14)).isoformat(), "link": None}
    result = stegvis(tmp_path, "participant", "add", "--name", "Zahra", "--caseworker", "1", "--language", "prs", "--json", TELEGRAM_BOT_USERNAME="stegvis_bot")
    participant = as_json(result)
    assert participant["language"] == "fa_AF"
    code = participant["invite_code"]
    assert 1 <= len(code) <= 64 and all(c.isalnum() or c in "_-" for c in code)
    assert participant["link"] == f"https://t.me/stegvis_bot?start={code}"
    assert participant["invite_expires_at"] == (NOW + timedelta(days=14)).isoformat()
    listing = as_json(stegvis(tmp_path, "participant", "list", "--json"))
    assert listing["participants"] == [
        {"participant_id": 1, "name": "Zahra", "caseworker_id": 1, "language": "fa_AF", "status": "invited", "connected": False}
    ]


def test_invite_codes_are_unique_and_unguessable(tmp_path: Path):
    add_caseworker(tmp_path)
    codes = {as_json(stegvis(tmp_path, "participant", "add", "--name", f"P{i}", "--caseworker", "1", "--json"))["invite_code"] for i in range(3)}
    assert len(codes) == 3 and all(len(code) >= 40 for code in codes)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["participant", "add", "--name", "A", "--caseworker", "9", "--json"], "--caseworker: no caseworker with id 9 (see: stegvis caseworker add)"),
        (["participant", "add", "--name", "A", "--caseworker", "1", "--language", "en", "--json"], "--language: unknown language 'en': use one of sv ar so fa_AF ti (prs for Dari)"),
        (["participant", "add", "--name", "  ", "--caseworker", "1", "--json"], "--name must not be empty"),
        (["caseworker", "add", "--name", "x" * 201, "--json"], "--name is longer than 200 characters"),
        # Larger than any id the database can hold: refused by the argument parser, not an OverflowError.
        (
            ["participant", "add", "--name", "A", "--caseworker", "12345678901234567890", "--json"],
            'argument --caseworker: "12345678901234567890" is too large to be an id; use a whole number, e.g. 7 (see: stegvis participant add --help)',
        ),
        (["caseworker", "add", "--name", "Olle", "--email", "not-an-address", "--json"], '--email: "not-an-address" is not an e-mail address: it has no @; e.g. anna.berg@kommun.se'),
        (["caseworker", "add", "--name", "Karin\nLund", "--json"], "--name must be on one line"),
        (["participant", "add", "--name", "Karin\nLund", "--caseworker", "1", "--json"], "--name must be on one line"),
        # U+202E shows the text after it backwards: a stored name could display as something else.
        (["caseworker", "add", "--name", "Karin \u202ednuL", "--json"], "--name contains a hidden text-direction character (U+202E); remove it"),
        (["participant", "add", "--name", "Amina \u202enisuY", "--caseworker", "1", "--json"], "--name contains a hidden text-direction character (U+202E); remove it"),
        # A usage error is one JSON object too, not argparse's usage text.
        (["participant", "add", "--caseworker", "1", "--json"], "the following arguments are required: --name (see: stegvis participant add --help)"),
    ],
)
def test_a_bad_admin_input_gets_a_json_error_and_exit_code_2(tmp_path: Path, args: list[str], error: str):
    add_caseworker(tmp_path)
    result = stegvis(tmp_path, *args)
    assert refused(result) == {"error": error}
    listing = as_json(stegvis(tmp_path, "participant", "list", "--json"))
    assert listing == {"participants": []}  # nothing was added


def test_a_refused_caseworker_is_not_stored(tmp_path: Path):
    add_caseworker(tmp_path)
    for name in ("Karin\nLund", "Karin \u202ednuL"):
        assert stegvis(tmp_path, "caseworker", "add", "--name", name, "--json").returncode == 2
    assert stegvis(tmp_path, "caseworker", "add", "--name", "Olle", "--email", "not-an-address").returncode == 2
    # The next caseworker gets id 2: none of the refused ones took an id.
    assert as_json(stegvis(tmp_path, "caseworker", "add", "--name", "Olle", "--json"))["caseworker_id"] == 2


def test_a_bad_admin_input_without_json_is_one_line_on_stderr(tmp_path: Path):
    add_caseworker(tmp_path)
    result = stegvis(tmp_path, "participant", "add", "--name", "A", "--caseworker", "3")
    assert refused_line(result) == "stegvis: --caseworker: no caseworker with id 3 (see: stegvis caseworker add)"
    result = stegvis(tmp_path, "participant", "add", "--name", "Amina \u202enisuY", "--caseworker", "1")
    assert refused_line(result) == "stegvis: --name contains a hidden text-direction character (U+202E); remove it"


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
    assert refused_line(result) == f"stegvis: configuration error: {line}"


# The database URL and the database behind it


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        # A driver Stegvis does not support; the password is masked.
        (f"mysql://admin:{PASSWORD}@db.example/x", "mysql://admin:***@db.example/x"),
        (f"postgresql+psycopg2://stegvis:{PASSWORD}@db.example/stegvis", "postgresql+psycopg2://stegvis:***@db.example/stegvis"),
        ("sqlite+pysqlcipher:///stegvis.db", "sqlite+pysqlcipher:///stegvis.db"),
    ],
)
@pytest.mark.parametrize("args", [("participant", "list"), ("caseworker", "add", "--name", "K")], ids=["list", "caseworker-add"])
def test_an_unsupported_database_url_is_one_line_that_never_shows_the_password(tmp_path: Path, url: str, shown: str, args: tuple[str, ...]):
    line = f"configuration error: STEGVIS_DATABASE_URL: use sqlite:///path/file.sqlite3 or postgresql://user@host/database (got '{shown}')"
    assert PASSWORD not in refuses_with(tmp_path, args, line, STEGVIS_DATABASE_URL=url)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [("participant", "list"), ("caseworker", "add", "--name", "K")], ids=["list", "caseworker-add"])
def test_a_postgresql_server_that_refuses_connections_is_named_by_host_and_port(tmp_path: Path, args: tuple[str, ...]):
    port = free_port()  # nothing listens there
    url = f"postgresql://stegvis:{PASSWORD}@127.0.0.1:{port}/stegvis"
    line = f"PostgreSQL at 127.0.0.1:{port} refuses connections; start it, or fix the host and port in STEGVIS_DATABASE_URL"
    assert PASSWORD not in refuses_with(tmp_path, args, line, STEGVIS_DATABASE_URL=url)


@pytest.mark.parametrize(
    "args",
    [
        ("participant", "list"),
        ("participant", "add", "--name", "Amina", "--caseworker", "1"),
        ("participant", "invite", "1"),
        ("appointment", "list"),
    ],
    ids=["participant-list", "participant-add", "participant-invite", "appointment-list"],
)
def test_a_command_on_a_database_that_does_not_exist_says_so_and_creates_nothing(tmp_path: Path, args: tuple[str, ...]):
    # A mistyped path: only `caseworker add`, which adds the first records, may make a new database.
    path = tmp_path / "data" / "stegvis.sqlite3"
    url = f"sqlite:///{path}"
    refuses_with(tmp_path, args, f"no database at {path}; check the path in STEGVIS_DATABASE_URL", STEGVIS_DATABASE_URL=url)
    assert list(tmp_path.iterdir()) == []


def test_caseworker_add_creates_the_database_with_its_folder(tmp_path: Path):
    path = tmp_path / "data" / "stegvis.sqlite3"
    url = f"sqlite:///{path}"
    assert as_json(stegvis(tmp_path, "caseworker", "add", "--name", "K", "--json", STEGVIS_DATABASE_URL=url))["caseworker_id"] == 1
    assert as_json(stegvis(tmp_path, "participant", "list", "--json", STEGVIS_DATABASE_URL=url)) == {"participants": []}
    assert path.is_file()


def test_the_database_file_the_command_creates_is_readable_by_its_owner_only(tmp_path: Path):
    add_caseworker(tmp_path)
    assert stegvis(tmp_path, "participant", "add", "--name", "Amina", "--caseworker", "1").returncode == 0
    modes = {path.name: path.stat().st_mode & 0o777 for path in tmp_path.iterdir()}
    # SQLite removes -wal and -shm on the last close; any it left would have the file's mode.
    assert "cli.sqlite3" in modes
    assert set(modes.values()) == {0o600}, modes


def _without_root_overrides() -> tuple[str, ...]:
    """A command prefix under which file permissions apply, also to root (who otherwise writes anywhere)."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv", path="/usr/bin:/bin")
    if setpriv is None:
        pytest.skip("running as root without setpriv: file permissions cannot be made to apply")
    # Root keeps its user id but loses the capabilities that override file permissions.
    prefix = (setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner")
    probe = subprocess.run([*prefix, "true"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip(f"cannot drop root's file-permission capabilities here: {probe.stderr.strip()}")
    return prefix


def test_a_database_in_a_folder_stegvis_may_not_write_is_one_line(tmp_path: Path):
    prefix = _without_root_overrides()
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    path = folder / "stegvis.sqlite3"
    url = f"sqlite:///{path}"
    line = f"cannot create the database at {path} (permission denied); fix the path in STEGVIS_DATABASE_URL"
    try:
        refuses_with(tmp_path, ("caseworker", "add", "--name", "K"), line, prefix=prefix, STEGVIS_DATABASE_URL=url)
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


def test_a_database_file_stegvis_may_not_write_is_one_line(tmp_path: Path):
    prefix = _without_root_overrides()
    add_caseworker(tmp_path)
    path = tmp_path / "cli.sqlite3"
    path.chmod(0o400)
    line = f"cannot read and write the database at {path}; check the file's owner and permissions, or fix the path in STEGVIS_DATABASE_URL"
    for args in (("participant", "list"), ("caseworker", "add", "--name", "Olle")):
        refuses_with(tmp_path, args, line, prefix=prefix)
    path.chmod(0o600)
    assert as_json(stegvis(tmp_path, "caseworker", "add", "--name", "Olle", "--json"))["caseworker_id"] == 2


# A new invite link


def _invites(tmp_path: Path) -> list[tuple[str, datetime, datetime | None]]:
    async def read() -> list[tuple[str, datetime, datetime | None]]:
        database = Database(f"sqlite:///{tmp_path}/cli.sqlite3", create=False)
        try:
            async with database.sessions() as session:
                return [(i.code_hash, i.expires_at, i.used_at) for i in await session.scalars(select(Invite).order_by(Invite.id))]
        finally:
            await database.dispose()

    return asyncio.run(read())


def _redeem(tmp_path: Path, code: str, chat_id: int) -> str | None:
    """Redeem an invite at NOW as the bot does on /start: None if it worked, else the refusal's reason."""

    async def redeem() -> str | None:
        database = Database(f"sqlite:///{tmp_path}/cli.sqlite3", create=False)
        try:
            async with database.sessions.begin() as session:
                invite = await repo.find_invite(session, code)
                assert invite is not None
                try:
                    await repo.redeem_invite(session, invite, chat_id, now=NOW)
                except repo.InviteNotUsable as refusal:
                    return refusal.reason
                return None
        finally:
            await database.dispose()

    return asyncio.run(redeem())


def test_participant_invite_prints_a_new_link_and_the_old_one_stops_working(tmp_path: Path):
    add_caseworker(tmp_path)
    old = as_json(stegvis(tmp_path, "participant", "add", "--name", "Zahra", "--caseworker", "1", "--json"))["invite_code"]

    issued = as_json(stegvis(tmp_path, "participant", "invite", "1", "--json", TELEGRAM_BOT_USERNAME="stegvis_bot"))

    new = issued["invite_code"]
    expires = (NOW + timedelta(days=14)).isoformat()
    assert issued == {"participant_id": 1, "invite_code": new, "invite_expires_at": expires, "link": f"https://t.me/stegvis_bot?start={new}"}
    assert new != old
    # The old code is voided: it expires now, unused, and the bot refuses it.
    # Only the codes' hashes are stored: the link is shown once, here.
    assert _invites(tmp_path) == [(repo.invite_hash(old), NOW, None), (repo.invite_hash(new), NOW + timedelta(days=14), None)]
    assert _redeem(tmp_path, old, CHAT) == "expired"
    assert _redeem(tmp_path, new, CHAT) is None


def test_participant_invite_without_json_prints_the_link_in_words(tmp_path: Path):
    add_caseworker(tmp_path)
    assert stegvis(tmp_path, "participant", "add", "--name", "Zahra", "--caseworker", "1").returncode == 0
    result = stegvis(tmp_path, "participant", "invite", "1", TELEGRAM_BOT_USERNAME="stegvis_bot")
    assert result.returncode == 0, result.stderr
    code = result.stdout.rsplit("?start=", 1)[1].strip()
    assert result.stdout == (
        "A new personal invite link for participant 1, valid until 2029-06-15; the old link no longer works:\n"
        f"https://t.me/stegvis_bot?start={code}\n"
    )
    assert _invites(tmp_path)[-1][0] == repo.invite_hash(code) and code.encode() not in b"".join(f.read_bytes() for f in tmp_path.glob("cli.sqlite3*"))


def test_participant_invite_refuses_an_unknown_id_and_a_participant_who_joined(tmp_path: Path):
    add_caseworker(tmp_path)
    code = as_json(stegvis(tmp_path, "participant", "add", "--name", "Zahra", "--caseworker", "1", "--json"))["invite_code"]

    refuses_with(tmp_path, ("participant", "invite", "7"), "no participant with id 7 (see: stegvis participant list)")

    assert _redeem(tmp_path, code, CHAT) is None  # Zahra joins from Telegram
    refuses_with(tmp_path, ("participant", "invite", "1"), "participant 1 has already joined from Telegram; a new link is only for someone who has not joined yet")
    assert _invites(tmp_path) == [(repo.invite_hash(code), NOW + timedelta(days=14), NOW)]  # no new invite


def test_participant_invite_with_a_bad_id_is_a_usage_error(tmp_path: Path):
    add_caseworker(tmp_path)
    assert refused(stegvis(tmp_path, "participant", "invite", "x1", "--json")) == {
        "error": 'argument ID: "x1" is not an id; use a whole number, e.g. 7 (see: stegvis participant invite --help)'
    }


# Settings read in-process


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
