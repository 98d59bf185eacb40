"""A flow published while two `stegvis run` processes share one database: both take it without a restart.

Each process talks to its own Bot API sandbox over HTTP (one bot token each, as two deployments
of one municipality would), and both read the same SQLite file. A participant in the middle of
onboarding when the new version is published finishes on the version they started on; the next
participant, on the other bot, gets the new one. A rollback goes live the same way, and a publish
that fails the check changes nothing in either bot.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.features.participants import services as participants
from bot.sandbox import BotAPISandbox
from bot.services import Actor
from flows.library import DEFINITIONS
from storage.database import Database
from tests.test_sender_crash import FROZEN, start_stegvis, stegvis_env, stop, wait_until

ROOT = Path(__file__).resolve().parents[1]
DEADLINE = 60.0
SHIPPED_WELCOME = "Tack! Här får du påminnelser om möten och frågor om din språkträning. Du svarar med knapparna.\nSkriv /help om du behöver hjälp."
NEW_WELCOME = "Välkommen till Stegvis! Du svarar med knapparna. Skriv /help om du behöver hjälp."
ADMIN = Actor("cli", "anna")


def onboarding_with(welcome: str) -> str:
    text = (DEFINITIONS / "onboarding.yaml").read_text(encoding="utf-8")
    start = text.index("  welcome:\n    say: |-\n")
    stop_at = text.index("    end: true", start)
    return text[:start] + f"  welcome:\n    say: {welcome}\n" + text[stop_at:]


async def stegvis_cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def invites(database: Database, count: int) -> list[str]:
    async with database.sessions() as session:
        caseworker = await participants.add_caseworker(session, ADMIN, name="Karin Lund", email=None, now=FROZEN)
        codes = []
        for number in range(count):
            added = await participants.add_participant(session, ADMIN, name=f"Deltagare {number}", caseworker_id=caseworker.caseworker_id, language=None, now=FROZEN, invite_days=14)
            codes.append(added.invite.code)
        await session.commit()
    return codes


async def test_a_flow_published_mid_conversation_reaches_both_bots_and_the_open_conversation_keeps_its_version(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.sqlite3'}"
    database = Database(url)
    await database.ensure_schema()
    first_code, second_code, third_code = await invites(database, 3)
    await database.dispose()
    async with BotAPISandbox(token="111:ONE") as one, BotAPISandbox(token="222:TWO") as two:
        env_one, env_two = stegvis_env(url, one), stegvis_env(url, two)
        log_one, log_two = tmp_path / "one.log", tmp_path / "two.log"
        bot_one = await start_stegvis(env_one, log_one)
        bot_two = await start_stegvis(env_two, log_two)
        try:
            amina = one.user(7001, "Amina")
            await amina.send(f"/start {first_code}")
            await amina.next_reply(timeout=DEADLINE)  # the language picker
            await amina.press("Svenska", timeout=DEADLINE)
            privacy = await amina.next_reply(timeout=DEADLINE)
            assert privacy.text.startswith("Hej Deltagare 0!")

            # Published while Amina reads the privacy notice.
            new_file = tmp_path / "onboarding.yaml"
            new_file.write_text(onboarding_with(NEW_WELCOME), encoding="utf-8")
            code, out, err = await stegvis_cli(env_one, "flows", "publish", str(new_file), "--note", "a shorter welcome")
            assert code == 0, err
            assert out.startswith("onboarding version 2 is live"), out
            for log, bot in ((log_one, bot_one), (log_two, bot_two)):
                await wait_until(lambda log=log: "flows: onboarding version 2 is live" in log.read_text(), "the bot to load version 2", log, bot, timeout=DEADLINE)

            # Amina finishes on version 1, the version her conversation started on.
            await amina.press("Ja, jag godkänner", privacy, timeout=DEADLINE)
            assert (await amina.next_reply(timeout=DEADLINE)).text == SHIPPED_WELCOME

            # Bilal, on the other bot, starts after the publish: version 2.
            bilal = two.user(7002, "Bilal")
            await bilal.send(f"/start {second_code}")
            await bilal.next_reply(timeout=DEADLINE)
            await bilal.press("Svenska", timeout=DEADLINE)
            await bilal.next_reply(timeout=DEADLINE)
            await bilal.press("Ja, jag godkänner", timeout=DEADLINE)
            assert (await bilal.next_reply(timeout=DEADLINE)).text == NEW_WELCOME

            # A file that fails the check is refused; the live version stays 2 in both bots.
            broken = tmp_path / "broken" / "onboarding.yaml"
            broken.parent.mkdir()
            broken.write_text(onboarding_with("Välkommen {namn}!"), encoding="utf-8")
            code, out, err = await stegvis_cli(env_one, "flows", "publish", str(broken))
            assert code == 2 and out == ""
            assert err.splitlines() == [
                f"stegvis: {broken} has 1 error; nothing was published and the live version stays as it was",
                f"  {broken}:31: steps.welcome.say: unknown placeholder {{namn}} (declared variables: name, retention_months)",
            ]
            code, out, _ = await stegvis_cli(env_two, "flows", "history", "onboarding", "--json")
            assert code == 0 and '"live": 2' in out

            # Rolled back: the shipped text again, as version 3, in both bots.
            code, out, err = await stegvis_cli(env_two, "flows", "rollback", "onboarding", "--to", "1")
            assert code == 0, err
            assert out.startswith("onboarding version 3 is live (the text of version 1 again)"), out
            for log, bot in ((log_one, bot_one), (log_two, bot_two)):
                await wait_until(lambda log=log: "flows: onboarding version 3 is live" in log.read_text(), "the bot to load version 3", log, bot, timeout=DEADLINE)
            chen = one.user(7003, "Chen")
            await chen.send(f"/start {third_code}")
            await chen.next_reply(timeout=DEADLINE)
            await chen.press("Svenska", timeout=DEADLINE)
            await chen.next_reply(timeout=DEADLINE)
            await chen.press("Ja, jag godkänner", timeout=DEADLINE)
            assert (await chen.next_reply(timeout=DEADLINE)).text == SHIPPED_WELCOME

            code, out, _ = await stegvis_cli(env_one, "flows", "diff", "onboarding", "--from", "2", "--to", "3")
            assert code == 0 and f"-    say: {NEW_WELCOME}" in out.splitlines()
        finally:
            await stop(bot_one)
            await stop(bot_two)
    assert "Traceback" not in log_one.read_text() + log_two.read_text()
