"""The bot in webhook mode (``bot.run.run_webhook``): the sandbox POSTs updates with Telegram's
secret-token header to 127.0.0.1, and anything without the right secret is refused."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from flows.library import load_flows
from locales import Catalogs
from storage.models import ConsentAnswer, ParticipantStatus
from tests.harness import WEBHOOK_SECRET, BotHarness, start_bot

CATALOGS = Catalogs()
ONBOARDING = load_flows()["onboarding"].steps
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def assert_nothing_logged(caplog: pytest.LogCaptureFixture) -> None:
    bad = [record for record in caplog.records if record.levelno >= logging.ERROR or record.exc_info]
    assert not bad, "\n".join(f"{r.levelname} {r.name}: {r.getMessage()}" for r in bad)


@pytest.fixture
async def webhook_bot(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> AsyncIterator[BotHarness]:
    caplog.set_level(logging.WARNING)
    async with start_bot(tmp_path, webhook=True) as harness:
        yield harness


def start_update(update_id: int, user_id: int, text: str) -> dict:
    """A private-chat message as Telegram would POST it."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "from": {"id": user_id, "is_bot": False, "first_name": "Mallory"},
            "chat": {"id": user_id, "type": "private", "first_name": "Mallory"},
            "date": int(time.time()),
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len("/start")}],
        },
    }


async def test_the_bot_sets_its_webhook_with_a_secret(webhook_bot: BotHarness) -> None:
    assert webhook_bot.webhook_url is not None and webhook_bot.webhook_url.startswith("http://127.0.0.1:")
    assert webhook_bot.sandbox.webhook == {"url": webhook_bot.webhook_url, "secret_token": WEBHOOK_SECRET}


async def test_onboarding_through_the_webhook(webhook_bot: BotHarness, caplog: pytest.LogCaptureFixture) -> None:
    harness = webhook_bot
    code = await harness.invite("Hassan Al-Khatib")
    user = harness.user(first_name="Hassan", language_code="ar")
    await user.send(f"/start {code}")
    picker = await user.next_reply()
    assert picker.button_texts[0] == "العربية"
    await user.press("العربية")
    notice = await user.next_reply()
    texts = CATALOGS.texts("ar")
    assert notice.text == texts.gettext(ONBOARDING["privacy"].say, name="Hassan Al-Khatib", retention_months=12)
    await user.press(texts.gettext(ONBOARDING["privacy"].buttons[0].label))
    assert (await user.next_reply()).text == texts.gettext(ONBOARDING["welcome"].say)

    participant_id = harness.participant_id(code)
    participant = await harness.participant(participant_id)
    assert (participant.status, participant.language, participant.telegram_chat_id) == (ParticipantStatus.ACTIVE, "ar", user.id)
    [consent] = await harness.consents(participant_id)
    assert (consent.answer, consent.notice_version) == (ConsentAnswer.AGREED, "2026-12")
    assert await harness.event_types(participant_id) == ["invite_redeemed", "language_chosen", "consent", "flow_completed"]
    assert harness.sandbox.webhook_errors == []
    assert_nothing_logged(caplog)


@pytest.mark.parametrize("headers", [{SECRET_HEADER: "not-the-secret"}, {}], ids=["wrong-secret", "no-secret"])
async def test_update_without_the_right_secret_is_refused(webhook_bot: BotHarness, caplog: pytest.LogCaptureFixture, headers: dict) -> None:
    harness = webhook_bot
    code = await harness.invite("Sara Lindqvist")
    mallory = harness.user(first_name="Mallory")  # a known chat, so an answer would show up
    stored = await harness.snapshot()
    assert harness.webhook_url is not None

    async with aiohttp.ClientSession() as http:
        async with http.post(harness.webhook_url, json=start_update(10_000, mallory.id, f"/start {code}"), headers=headers) as response:
            assert response.status in (401, 403)
        assert await harness.snapshot() == stored
        assert (await harness.invite_row(code)).used_at is None

        # The same update with the secret is taken: the refusal above was the secret's doing.
        async with http.post(harness.webhook_url, json=start_update(10_001, mallory.id, f"/start {code}"), headers={SECRET_HEADER: WEBHOOK_SECRET}) as response:
            assert response.status == 200
    # Had the refused update been taken (in the background), it would have used the invite, and this
    # one would get "the link is already used": the only answer is the language picker.
    picker = await mallory.next_reply()
    assert mallory.messages == [picker] and picker.buttons
    assert (await harness.participant(harness.participant_id(code))).telegram_chat_id == mallory.id
    assert_nothing_logged(caplog)


async def test_stopping_the_webhook_bot_removes_the_webhook(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    async with start_bot(tmp_path, webhook=True) as harness:
        assert harness.sandbox.webhook is not None
        url = harness.webhook_url
    assert harness.sandbox.webhook is None  # run_webhook deleted it when cancelled
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.post(url, json={}, headers={SECRET_HEADER: WEBHOOK_SECRET})
    assert_nothing_logged(caplog)
