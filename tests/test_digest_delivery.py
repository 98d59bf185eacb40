"""The digest's delivery: Telegram links, the daily send over the outbox and SMTP, and its record.

A real SMTP server (aiosmtpd on 127.0.0.1) receives the emails, or refuses them (550), does not
answer, or drops the connection; a real sandboxed Telegram receives the Telegram digest through
the outbox. The digest's words come from `StoredMessages`, a small real source that renders the
participants' stored messages (the digest feature's builder is wired in at `feature.digest_source`).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import html
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import Stegvis
from bot.config import load_settings
from bot.email.smtp import SmtpServer
from bot.features.digest.render import TelegramMessage
from bot.features.digest_delivery import router
from bot.features.digest_delivery.delivery import MAX_EMAIL_ATTEMPTS, create_digests, send_emails
from bot.features.digest_delivery.feature import daily_send, delivery_of
from bot.features.digest_delivery.services import digest_status, send_now
from bot.features.participants import services as participants
from bot.outbox.sender import Sender
from bot.services import Actor, NotFound
from storage import access_log
from storage import repositories as repo
from storage.clock import FrozenClock
from storage.database import Database
from storage.models import Caseworker, Digest, Event, OutboxMessage, Participant
from tests.harness import free_port, start_bot
from tests.test_cli import as_json, refused, stegvis

TZ = ZoneInfo("Europe/Stockholm")
TUESDAY = date(2027, 2, 2)
SATURDAY = date(2027, 2, 6)
EPIPHANY = date(2027, 1, 6)  # a Wednesday, a Swedish public holiday
PASSWORD = "smtp-hemligt-42"
ACTOR = Actor.command_line()


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=TZ)


@dataclass
class Content:
    subject: str
    text: str
    html: str


class StoredMessages:
    """A real small digest source: the day's stored `participant_message` events of the caseworker's participants."""

    async def _lines(self, session: AsyncSession, caseworker_id: int, day: date) -> list[str]:
        rows = await session.execute(
            select(Participant.name, Participant.id, Event.payload, Event.occurred_at)
            .join(Participant, Participant.id == Event.participant_id)
            .where(Participant.caseworker_id == caseworker_id, Event.type == "participant_message")
            .order_by(Event.id)
        )
        return [f"{name} ({pid}): «{payload['text']}»" for name, pid, payload, at in rows if at.astimezone(TZ).date() <= day]

    async def telegram(self, session: AsyncSession, settings: Any, caseworker_id: int, day: date, now: datetime) -> list[TelegramMessage]:
        lines = await self._lines(session, caseworker_id, day)
        return [TelegramMessage(html.escape("\n".join([f"Sammanfattning {day.isoformat()}", *lines])))] if lines else []

    async def email(self, session: AsyncSession, settings: Any, caseworker_id: int, day: date, now: datetime) -> Content | None:
        lines = await self._lines(session, caseworker_id, day)
        if not lines:
            return None
        return Content(f"Stegvis sammanfattning {day.isoformat()}", "\n".join(lines), "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>")


# ---- SMTP servers ------------------------------------------------------------------------------


class Inbox:
    """An SMTP server's handler: accepts, refuses (550), drops the connection, or never answers."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.mode = "accept"
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.mode == "refuse":
            return "550 5.7.1 Refused by policy"
        if self.mode == "drop":
            server.transport.close()
            return "250 OK"
        if self.mode == "silent":
            await asyncio.sleep(3)  # longer than the client's timeout
            return "451 too late"
        self.received.append(envelope.original_content or envelope.content)
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == PASSWORD.encode())


@contextmanager
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=inbox.authenticate, auth_require_tls=False)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def settings_for(database: Database, port: int | None, **more: Any) -> Any:
    smtp = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False, "smtp_user": "stegvis", "smtp_password": PASSWORD, "smtp_from": "stegvis@kommun.se"} if port else {}
    return load_settings(database_url=database.engine.url.render_as_string(hide_password=False), telegram_bot_token="123456:SECRET-token-xyz", **smtp, **more)


@asynccontextmanager
async def stegvis_on(database: Database, settings: Any, clock: FrozenClock) -> AsyncIterator[Stegvis]:
    """A Stegvis process on `database` (not polling Telegram): its jobs run by hand."""
    app = Stegvis.create(settings, clock=clock, database=database)
    delivery_of(app).source = StoredMessages()
    yield app


async def caseworker_with_a_message(database: Database, *, email_address: str | None = "karin@kommun.se", text: str = "Jag är sjuk idag <b>&</b>") -> int:
    async with database.sessions() as session:
        caseworker = await repo.add_caseworker(session, "Karin Lund", email_address, now=local(TUESDAY, 6))
        participant = await repo.add_participant(session, "Amina Yusuf", caseworker.id, "so", now=local(TUESDAY, 6))
        await repo.append_event(session, "participant_message", participant.id, {"text": text, "language": "so"}, occurred_at=local(TUESDAY, 6, 30))
        await session.commit()
        return caseworker.id


async def digests(database: Database) -> list[tuple[int, date, str, str, int]]:
    async with database.sessions() as session:
        return [(d.caseworker_id, d.day, d.channel, d.status, d.attempts) for d in await session.scalars(select(Digest).order_by(Digest.id))]


# ---- email ---------------------------------------------------------------------------------------


async def test_the_email_digest_reaches_a_real_smtp_server_as_text_and_html_once(database: Database, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    cid = await caseworker_with_a_message(database)
    clock = FrozenClock(local(TUESDAY, 7, 29))
    with smtp_server() as (inbox, port):
        async with stegvis_on(database, settings_for(database, port), clock) as app:
            await daily_send(app)
            assert await digests(database) == []  # 07:29: not yet
            clock.set(local(TUESDAY, 7, 30))
            await daily_send(app)
            await daily_send(app)  # again: nothing more
        assert len(inbox.received) == 1
        assert inbox.logins == [(b"stegvis", PASSWORD.encode())]
    message = email.message_from_bytes(inbox.received[0], policy=email.policy.default)
    assert (message["To"], message["From"], message["Subject"]) == ("karin@kommun.se", "stegvis@kommun.se", "Stegvis sammanfattning 2027-02-02")
    assert message.get_content_type() == "multipart/alternative"
    plain, rich = message.get_body(("plain",)), message.get_body(("html",))
    assert plain.get_content().strip() == "Amina Yusuf (1): «Jag är sjuk idag <b>&</b>»"
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in rich.get_content()
    assert await digests(database) == [(cid, TUESDAY, "email", "sent", 1)]
    async with database.sessions() as session:
        listing = await digest_status(session, ACTOR, day=TUESDAY)
        sent = [e.payload for e in await session.scalars(select(Event).where(Event.type == "digest_sent"))]
    assert [(d.channel, d.status, d.sent_at) for d in listing.digests] == [("email", "sent", local(TUESDAY, 7, 30))]
    assert sent == [{"digest_id": 1, "caseworker_id": cid, "day": "2027-02-02", "channel": "email"}]
    assert PASSWORD not in caplog.text and "SECRET-token" not in caplog.text


@pytest.mark.parametrize("mode", ["refuse", "drop", "silent"])
async def test_a_server_that_refuses_drops_or_never_answers_loses_no_digest(database: Database, caplog: pytest.LogCaptureFixture, mode: str) -> None:
    """Each failed attempt is counted and retried later; after the last one the digest is failed,
    with its error, in `digest status`; `digest send` tries it again once the server works."""
    caplog.set_level(logging.DEBUG)
    cid = await caseworker_with_a_message(database)
    clock = FrozenClock(local(TUESDAY, 7, 30))
    expected = {"refuse": "the server refused: 550 5.7.1 Refused by policy", "drop": "the server closed the connection", "silent": "the server did not answer within 0.5 s"}[mode]
    with smtp_server() as (inbox, port):
        settings = settings_for(database, port)
        server = SmtpServer.from_settings(settings, timeout=0.5)
        source = StoredMessages()
        inbox.mode = mode
        async with database.sessions() as session:
            assert await create_digests(session, settings, day=TUESDAY, now=clock.now()) == 1
            await session.commit()
        for attempt in range(1, MAX_EMAIL_ATTEMPTS + 1):
            run = await send_emails(database, source, settings, server, clock.now())
            assert (run.retry if attempt < MAX_EMAIL_ATTEMPTS else run.failed) == {1: expected}
            # Not again before its time: the retry waits.
            assert (await send_emails(database, source, settings, server, clock.now())).retry == {}
            clock.advance(timedelta(hours=1))
        assert await digests(database) == [(cid, TUESDAY, "email", "failed", MAX_EMAIL_ATTEMPTS)]
        assert (await send_emails(database, source, settings, server, clock.now())) == type(run)()  # failed: left alone
        async with database.sessions() as session:
            listing = await digest_status(session, ACTOR, day=TUESDAY)
        assert [(d.status, d.attempts, d.last_error) for d in listing.digests] == [("failed", MAX_EMAIL_ATTEMPTS, expected)]
        assert inbox.received == []

        inbox.mode = "accept"
        async with database.sessions() as session:
            listing = await send_now(database, session, ACTOR, settings, source, day=TUESDAY, caseworker_id=None, now=clock.now())
        assert [(d.status, d.attempts, d.last_error) for d in listing.digests] == [("sent", 1, None)]
        assert len(inbox.received) == 1
    assert PASSWORD not in caplog.text and "SECRET-token" not in caplog.text


async def test_weekends_holidays_and_before_the_time_create_nothing(database: Database) -> None:
    await caseworker_with_a_message(database)
    with smtp_server() as (inbox, port):
        clock = FrozenClock(local(SATURDAY, 9))
        async with stegvis_on(database, settings_for(database, port), clock) as app:
            for moment in (local(SATURDAY, 9), local(SATURDAY + timedelta(days=1), 12), local(EPIPHANY, 8), local(TUESDAY, 7, 29)):
                clock.set(moment)
                await daily_send(app)
            assert await digests(database) == [] and inbox.received == []
            clock.set(local(TUESDAY, 12))  # late (Stegvis was down at 07:30): still that day's digest
            await daily_send(app)
            assert [d[:4] for d in await digests(database)] == [(1, TUESDAY, "email", "sent")]


async def test_a_restart_between_creating_the_digests_and_sending_sends_each_once(database: Database) -> None:
    cid = await caseworker_with_a_message(database)
    clock = FrozenClock(local(TUESDAY, 7, 30))
    with smtp_server() as (inbox, port):
        settings = settings_for(database, port)
        async with database.sessions() as session:  # the first process got this far, then stopped
            await create_digests(session, settings, day=TUESDAY, now=clock.now())
            await session.commit()
        clock.advance(timedelta(minutes=3))
        async with stegvis_on(database, settings, clock) as restarted:
            await daily_send(restarted)
            await daily_send(restarted)
        async with stegvis_on(database, settings, clock) as again:
            await daily_send(again)
        assert len(inbox.received) == 1
    assert await digests(database) == [(cid, TUESDAY, "email", "sent", 1)]


async def test_a_caseworker_with_no_channel_gets_no_row_but_is_named_in_status(database: Database) -> None:
    cid = await caseworker_with_a_message(database, email_address=None)
    clock = FrozenClock(local(TUESDAY, 8))
    async with stegvis_on(database, settings_for(database, None), clock) as app:
        await daily_send(app)
    assert await digests(database) == []
    async with database.sessions() as session:
        listing = await digest_status(session, ACTOR, day=TUESDAY)
        assert listing.without_channel == (cid,)
        with pytest.raises(NotFound, match="no caseworker with id 9"):
            await send_now(database, session, ACTOR, load_settings(), StoredMessages(), day=TUESDAY, caseworker_id=9, now=clock.now())


# ---- Telegram --------------------------------------------------------------------------------------


async def test_a_caseworker_links_telegram_and_gets_the_digest_through_the_outbox(tmp_path: Path, database: Database, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    clock = FrozenClock(local(TUESDAY, 7))
    async with start_bot(tmp_path, database=database, clock=clock) as harness:
        delivery_of(harness.stegvis).source = StoredMessages()
        async with harness.database.sessions() as session:
            added = await participants.add_caseworker(session, ACTOR, name="Karin Lund", email=None, now=clock.now())
            await session.commit()
        assert added.invite_code and added.invite_code.startswith("case-")
        _amina, amina_id = await harness.joined("Amina Yusuf", "so")
        async with harness.database.sessions() as session:
            await session.execute(Participant.__table__.update().values(caseworker_id=added.caseworker_id))
            await repo.append_event(session, "participant_message", amina_id, {"text": "<script>x</script> 🙂", "language": "so"}, occurred_at=clock.now())
            await session.commit()

        karin = harness.user(first_name="Karin", language_code="sv")
        await karin.send(f"/start {added.invite_code}")
        assert (await karin.next_reply()).text == harness.stegvis.catalogs.texts("sv").gettext(router.WELCOME, name="Karin Lund")
        await harness.settle()
        assert harness.sandbox.commands[("chat", None)] == [{"command": "help", "description": "Hjälp"}]
        await karin.send("hej")  # a linked caseworker's chat: a short help, never a participant's flow
        assert (await karin.next_reply()).text == router.HELP
        stranger = harness.user(first_name="Olle")
        await stranger.send(f"/start {added.invite_code}")  # used already
        assert (await stranger.next_reply()).text == router.REFUSED["used"]

        clock.set(local(TUESDAY, 7, 30))
        await daily_send(harness.stegvis)
        await daily_send(harness.stegvis)  # a second run (or process) plans nothing more
        before = len(karin.messages)
        assert await Sender(harness.stegvis, harness.bot).tick() == 1
        await karin.wait_for_messages(before + 1)
        assert karin.messages[-1].text == "Sammanfattning 2027-02-02\nAmina Yusuf (1): «&lt;script&gt;x&lt;/script&gt; 🙂»"
        assert await Sender(harness.stegvis, harness.bot).tick() == 0  # a restarted sender finds nothing left
        await daily_send(harness.stegvis)
        async with harness.database.sessions() as session:
            listing = await digest_status(session, ACTOR, day=TUESDAY)
            rows = await session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.subject_kind == "caseworker_digest"))
            linked = await session.scalar(select(Caseworker.telegram_chat_id).where(Caseworker.id == added.caseworker_id))
        assert [(d.channel, d.status, d.sent_at) for d in listing.digests] == [("telegram", "sent", local(TUESDAY, 7, 30))]
        assert rows == 1 and linked == karin.id
        assert "SECRET" not in caplog.text and harness.stegvis.settings.telegram_bot_token not in caplog.text


# ---- the command line --------------------------------------------------------------------------------


def test_digest_send_and_status_refuse_bad_input_with_exit_2(tmp_path: Path) -> None:
    assert stegvis(tmp_path, "caseworker", "add", "--name", "Karin Lund").returncode == 0
    assert refused(stegvis(tmp_path, "digest", "status", "--date", "2027-13-01", "--json")) == {"error": '--date: "2027-13-01" is not a date; use YYYY-MM-DD, e.g. 2026-11-24'}
    assert refused(stegvis(tmp_path, "digest", "send", "--caseworker", "9", "--json")) == {"error": "--caseworker: no caseworker with id 9 (see: stegvis caseworker add)"}
    assert refused(stegvis(tmp_path, "caseworker", "invite", "7", "--json")) == {"error": "no caseworker with id 7 (see: stegvis caseworker add)"}
    first = as_json(stegvis(tmp_path, "caseworker", "invite", "1", "--json", TELEGRAM_BOT_USERNAME="stegvis_bot"))
    second = as_json(stegvis(tmp_path, "caseworker", "invite", "1", "--json", TELEGRAM_BOT_USERNAME="stegvis_bot"))
    assert first["invite_code"].startswith("case-") and first["invite_code"] != second["invite_code"]  # the old one stops working
    assert second["link"] == f"https://t.me/stegvis_bot?start={second['invite_code']}" and second["linked"] is False
    status = stegvis(tmp_path, "digest", "status", "--json")
    assert status.returncode == 0, status.stderr
    assert status.stdout.strip() == '{"date": "2029-06-01", "digests": [], "without_channel": [1]}'


async def test_the_real_digest_reaches_telegram_as_html_and_a_quick_reply_is_one_tap(tmp_path: Path, database: Database) -> None:
    """The digest feature's own builder (no test source), through the outbox and the sandbox:
    Telegram HTML that the sandbox parses, buttons under each needs-action participant who can be
    answered, and a press that reaches the participant in Tigrinya through the outbox."""
    from bot.features.caseworker_messages.messages import QUICK_REPLIES
    from bot.features.digest_delivery import quick_replies
    from bot.features.digest_delivery.services import new_invite
    from flows.engine import BROKEN

    clock = FrozenClock(local(TUESDAY - timedelta(days=1), 9))
    async with start_bot(tmp_path, database=database, clock=clock) as harness:
        senait, senait_id = await harness.joined("Senait Tesfay", "ti")
        omar, _omar_id = await harness.joined("Omar Said", "ar")
        await senait.send("/message")
        await senait.next_reply()
        await senait.send("<b>Kan</b> vi ses? ሰላም")
        await senait.next_reply()  # received, in Tigrinya
        await omar.send("/stop")
        await omar.next_reply()
        await harness.settle()
        async with harness.database.sessions() as session:
            invite = await new_invite(session, ACTOR, harness.stegvis.settings, caseworker_id=harness.caseworker_id, now=clock.now())
            await session.commit()
        karin = harness.user(first_name="Karin", language_code="sv")
        await karin.send(f"/start {invite.invite_code}")
        await karin.next_reply()

        clock.set(local(TUESDAY, 7, 30))
        await daily_send(harness.stegvis)
        assert await Sender(harness.stegvis, harness.bot).tick() == 1
        await karin.wait_for(lambda: len(karin.messages) >= 3, what="the digest's messages")
        first, rest = karin.messages[1], karin.messages[2:]
        assert first.parse_mode == "HTML" and "<b>Behöver åtgärd</b>" in first.text
        assert "Senait Tesfay (id 1)" in first.text and "«\u2068&lt;b&gt;Kan&lt;/b&gt; vi ses? ሰላም\u2069» (på tigrinja)" in first.text
        assert [[label for label, _data in row] for row in first.buttons] == [[quick_replies.LABELS[r] for r in row] for row in quick_replies.ROWS]
        assert any("Omar Said (id 2)" in m.text for m in rest) and not any(m.buttons for m in rest)  # said /stop: nothing to answer
        await daily_send(harness.stegvis)  # copies the outcome into the digest's record and logs whom it showed Karin
        async with harness.database.sessions() as session:
            shown = [(r.actor, r.what, r.detail, r.participant_ids) for r in await access_log.rows_since(session, local(TUESDAY, 0))]
        assert shown == [(f"caseworker:{harness.caseworker_id}", "digest.send", "2027-02-02 on Telegram", (senait_id, _omar_id))]

        clock.set(local(TUESDAY, 9))
        answer = await karin.press(quick_replies.LABELS["call_you"], first)
        assert answer.text == quick_replies.LABELS["call_you"] and not answer.show_alert
        await karin.wait_for(lambda: not first.buttons and len(karin.messages) >= len(rest) + 3, what="the buttons taken away and a confirmation")
        sv, ti = harness.stegvis.catalogs.texts("sv"), harness.stegvis.catalogs.texts("ti")
        assert karin.messages[-1].text == f"Skickat till Senait (id 1) på tigrinja: «{ti.gettext(QUICK_REPLIES['call_you'])}»"
        before = len(senait.messages)
        assert await Sender(harness.stegvis, harness.bot).tick() == 1
        await senait.wait_for_messages(before + 1)
        assert senait.messages[-1].text == ti.gettext(QUICK_REPLIES["call_you"]) != sv.gettext(QUICK_REPLIES["call_you"])
        [event] = [e for e in await harness.events(senait_id) if e.type == "caseworker_reply"]
        assert event.payload == {"reply": "call_you", "caseworker_id": harness.caseworker_id, "now": False}

        # Refusals: an alert in Swedish, and nothing sent.
        assert (await karin.press_data(quick_replies.data(2, "noted"), first)).text == quick_replies.NOT_SENT.format(why=quick_replies.WHY["stopped"])
        assert (await karin.press_data(quick_replies.data(99, "noted"), first)).text == quick_replies.NOT_SENT.format(why=quick_replies.WHY["gone"])
        assert (await karin.press_data("cwr:1:hello", first)).text == quick_replies.OLD_BUTTON
        assert (await karin.press_data("s:onboarding:privacy:yes", first)).text == quick_replies.OLD_BUTTON
        # In a participant's chat it is just a button that does not work there.
        assert (await senait.press_data(quick_replies.data(1, "noted"))).text == ti.gettext(BROKEN)
        await harness.settle()
        assert len([e for e in await harness.events() if e.type == "caseworker_reply"]) == 1


async def test_a_failed_telegram_digest_shows_as_failed_and_digest_send_tries_it_again(tmp_path: Path, database: Database) -> None:
    from bot.features.digest_delivery.services import new_invite

    clock = FrozenClock(local(TUESDAY, 7))
    async with start_bot(tmp_path, database=database, clock=clock) as harness:
        delivery_of(harness.stegvis).source = source = StoredMessages()
        _amina, amina_id = await harness.joined("Amina Yusuf", "so")
        async with harness.database.sessions() as session:
            await repo.append_event(session, "participant_message", amina_id, {"text": "Hej", "language": "so"}, occurred_at=clock.now())
            invite = await new_invite(session, ACTOR, harness.stegvis.settings, caseworker_id=harness.caseworker_id, now=clock.now())
            await session.commit()
        karin = harness.user(first_name="Karin", language_code="sv")
        await karin.send(f"/start {invite.invite_code}")
        await karin.next_reply()
        karin.block()  # Telegram answers 403: the outbox gives up on this chat
        await harness.settle()

        clock.set(local(TUESDAY, 7, 30))
        await daily_send(harness.stegvis)
        assert await Sender(harness.stegvis, harness.bot).tick() == 0  # tried, refused
        async with harness.database.sessions() as session:
            listing = await digest_status(session, ACTOR, day=TUESDAY)
        telegram = [d for d in listing.digests if d.channel == "telegram"]
        assert [(d.status, d.sent_at) for d in telegram] == [("failed", None)] and telegram[0].last_error

        karin.unblock()
        await harness.settle()
        async with harness.database.sessions() as session:
            again = await send_now(harness.database, session, ACTOR, harness.stegvis.settings, source, day=TUESDAY, caseworker_id=harness.caseworker_id, now=clock.now())
        assert [d.status for d in again.digests if d.channel == "telegram"] == ["pending"]
        before = len(karin.messages)
        assert await Sender(harness.stegvis, harness.bot).tick() == 1
        await karin.wait_for_messages(before + 1)
        assert karin.messages[-1].text == "Sammanfattning 2027-02-02\nAmina Yusuf (1): «Hej»"
        await daily_send(harness.stegvis)
        async with harness.database.sessions() as session:
            listing = await digest_status(session, ACTOR, day=TUESDAY)
        assert [d.status for d in listing.digests if d.channel == "telegram"] == ["sent"]
