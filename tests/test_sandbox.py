"""Tests for bot.sandbox: the real aiogram stack (Bot, Dispatcher, AiohttpSession,
SimpleRequestHandler) talking to the local Bot API stand-in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.filters import Command, CommandObject
from aiogram.methods import SendMessage
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot.sandbox import BotAPISandbox, CallbackAnswer, SandboxUser

KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[
        [
            InlineKeyboardButton(text="Yes", callback_data="answer:yes"),
            InlineKeyboardButton(text="No", callback_data="answer:no"),
        ],
        [InlineKeyboardButton(text="Docs", url="https://example.org/")],
    ]
)


def make_bot(sandbox: BotAPISandbox, token: str | None = None) -> Bot:
    return Bot(token or sandbox.token, session=AiohttpSession(api=TelegramAPIServer.from_base(sandbox.url)))


def echo_router(seen: list[Message]) -> Router:
    """A small bot: /start with args, echo with a keyboard, button answers that edit."""
    router = Router()

    @router.message(Command("start"))
    async def start(message: Message, command: CommandObject) -> None:
        seen.append(message)
        await message.answer(f"Welcome! code={command.args}", reply_markup=KEYBOARD)

    @router.message(F.text)
    async def echo(message: Message) -> None:
        seen.append(message)
        await message.answer(f"echo: {message.text}", reply_markup=KEYBOARD)

    @router.message()
    async def media(message: Message) -> None:
        seen.append(message)
        await message.answer(f"got {message.content_type.value}")

    @router.callback_query(F.data.startswith("answer:"))
    async def answered(callback: CallbackQuery) -> None:
        choice = callback.data.split(":", 1)[1]
        await callback.answer(f"You chose {choice}")
        assert isinstance(callback.message, Message)
        await callback.message.edit_text(f"chosen: {choice}")

    @router.callback_query()
    async def outdated(callback: CallbackQuery) -> None:
        await callback.answer("This button is outdated", show_alert=True)

    return router


@pytest.fixture
async def sandbox() -> AsyncIterator[BotAPISandbox]:
    async with BotAPISandbox() as sb:
        yield sb


@pytest.fixture
async def bot(sandbox: BotAPISandbox) -> AsyncIterator[Bot]:
    bot = make_bot(sandbox)
    yield bot
    await bot.session.close()


@pytest.fixture
async def seen() -> list[Message]:
    return []


@pytest.fixture
async def polling(sandbox: BotAPISandbox, bot: Bot, seen: list[Message]) -> AsyncIterator[Dispatcher]:
    dp = Dispatcher()
    dp.include_router(echo_router(seen))
    task = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=1))
    await sandbox.wait_for_request("getUpdates")  # stop_polling() refuses before this
    yield dp
    await dp.stop_polling()
    await task


# ---- basics ------------------------------------------------------------------------


async def test_get_me(sandbox: BotAPISandbox, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (sandbox.bot_id, "stegvis_sandbox_bot", True)
    assert sandbox.requests[-1] == ("getMe", {})


async def test_wrong_token_unknown_method_and_path(sandbox: BotAPISandbox) -> None:
    intruder = make_bot(sandbox, token="999:WRONG")
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await intruder.get_me()
    finally:
        await intruder.session.close()
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{sandbox.url}/bot{sandbox.token}/sendTelepathy") as resp:
            assert resp.status == 404
            assert await resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        # Method names are case-insensitive, and GET with a query string works, as in Telegram.
        async with http.get(f"{sandbox.url}/bot{sandbox.token}/getme") as resp:
            assert (await resp.json())["result"]["username"] == sandbox.bot_username
    assert sandbox.requests[-1] == ("getMe", {})


# ---- polling, commands, buttons ----------------------------------------------------


async def test_start_command_reaches_handler_with_args(
    sandbox: BotAPISandbox, polling: Dispatcher, seen: list[Message]
) -> None:
    anna = sandbox.user(1001, "Anna", language_code="sv")
    await anna.send("/start abc")
    reply = await anna.next_reply()
    assert reply.text == "Welcome! code=abc"
    assert reply.buttons == [[("Yes", "answer:yes"), ("No", "answer:no")], [("Docs", "")]]
    [message] = seen
    assert message.chat.id == message.from_user.id == 1001
    assert message.chat.type == "private"
    assert message.from_user.language_code == "sv"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [("bot_command", 0, 6)]
    assert anna.transcript == ["› user: /start abc", "‹ bot: Welcome! code=abc [Yes | No] [Docs]"]


async def test_press_returns_answer_and_edit_is_reflected(sandbox: BotAPISandbox, polling: Dispatcher) -> None:
    bo = sandbox.user(1002, "Bo")
    await bo.send("hello")
    message = await bo.next_reply()
    assert message.text == "echo: hello"

    answer = await bo.press("No")
    assert answer == CallbackAnswer(text="You chose no", show_alert=False)
    await bo.wait_for(lambda: message.edited, what="the edit")
    assert bo.messages == [message]  # edited in place, not a new message
    assert message.text == "chosen: no"
    assert message.buttons == []  # an edit without reply_markup drops the keyboard
    assert "› pressed: No" in bo.transcript
    assert "‹ answer: You chose no" in bo.transcript
    assert "‹ bot edited: chosen: no" in bo.transcript


async def test_press_by_index_forged_data_and_missing_button(sandbox: BotAPISandbox, polling: Dispatcher) -> None:
    cy = sandbox.user(1003, "Cy")
    await cy.send("hi")
    await cy.next_reply()
    assert await cy.press(0) == CallbackAnswer("You chose yes", False)

    await cy.send("again")
    keyboard = await cy.next_reply()
    assert await cy.press_data("v1:stale") == CallbackAnswer("This button is outdated", True)
    with pytest.raises(AssertionError, match="'Maybe'.*has buttons \\['Yes', 'No', 'Docs'\\]"):
        await cy.press("Maybe", keyboard)
    with pytest.raises(AssertionError, match="not a callback button"):
        await cy.press("Docs")


async def test_media_messages_parse_in_aiogram(
    sandbox: BotAPISandbox, polling: Dispatcher, seen: list[Message]
) -> None:
    dee = sandbox.user(1004, "Dee")
    await dee.send_sticker()
    await dee.send_photo(caption="my permit")
    await dee.send_voice()
    await dee.send_document()
    replies = await dee.wait_for_messages(4)
    assert sorted(m.text for m in replies) == ["got document", "got photo", "got sticker", "got voice"]
    by_type = {m.content_type: m for m in seen}
    assert by_type["photo"].caption == "my permit" and len(by_type["photo"].photo) == 4
    assert by_type["sticker"].sticker.file_unique_id
    assert by_type["voice"].voice.mime_type == "audio/ogg"
    assert by_type["document"].document.file_name == "document.pdf"


async def test_long_polling_offset_and_wakeup(sandbox: BotAPISandbox, bot: Bot) -> None:
    eva = sandbox.user(1005, "Eva")
    await eva.send("one")
    await eva.send("two")
    first = await bot.get_updates()
    assert [u.message.text for u in first] == ["one", "two"]
    assert [u.update_id for u in await bot.get_updates()] == [u.update_id for u in first]  # not confirmed yet
    assert await bot.get_updates(offset=first[-1].update_id + 1, timeout=0) == []

    # A poll far longer than the test may take: it can only come back by being woken by the update.
    poll = asyncio.create_task(bot.get_updates(offset=first[-1].update_id + 1, timeout=3600, request_timeout=3700))
    await sandbox.wait_for_request("getUpdates", count=4)
    await eva.send("three")
    try:
        async with asyncio.timeout(60):
            [update] = await poll
    except TimeoutError:
        poll.cancel()
        raise AssertionError("the waiting getUpdates was not woken by the new update") from None
    assert update.message.text == "three"
    assert update.update_id == first[-1].update_id + 1


async def test_waiting_times_out_with_transcript(sandbox: BotAPISandbox) -> None:
    fia = sandbox.user(1006, "Fia")
    await fia.send("anyone there?")  # no bot is polling
    with pytest.raises(AssertionError, match="(?s)waiting for a reply from the bot.*› user: anyone there\\?"):
        await fia.next_reply(timeout=0.1)


# ---- errors the bot must handle ----------------------------------------------------


async def test_blocked_user_gives_forbidden(sandbox: BotAPISandbox, bot: Bot) -> None:
    gus = sandbox.user(1007, "Gus")
    sent = await bot.send_message(gus.id, "reminder")
    gus.block()
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(gus.id, "reminder 2")
    with pytest.raises(TelegramForbiddenError):
        await bot.edit_message_text("edited", chat_id=gus.id, message_id=sent.message_id)
    [update] = await bot.get_updates()  # Telegram tells the bot about the block
    assert update.my_chat_member.new_chat_member.status == "kicked"
    gus.unblock()
    await bot.send_message(gus.id, "welcome back")
    assert [m.text for m in gus.messages] == ["reminder", "welcome back"]


async def test_rate_limit_gives_retry_after() -> None:
    async with BotAPISandbox(rate_limit=3, per_chat_rate_limit=2, retry_after=7) as sandbox:
        bot = make_bot(sandbox)
        try:
            users = [sandbox.user(uid) for uid in (1, 2, 3)]
            await bot.send_message(1, "a")
            await bot.send_message(1, "b")
            with pytest.raises(TelegramRetryAfter) as per_chat:
                await bot.send_message(1, "c")  # third to one chat within a second
            await bot.send_message(2, "d")
            with pytest.raises(TelegramRetryAfter) as overall:
                await bot.send_message(3, "e")  # fourth overall within a second
            assert per_chat.value.retry_after == overall.value.retry_after == 7
            assert "retry after 7" in overall.value.message
            assert sandbox.too_many_requests == 2
            assert [len(u.messages) for u in users] == [2, 1, 0]
        finally:
            await bot.session.close()


async def test_validation_errors(sandbox: BotAPISandbox, bot: Bot) -> None:
    hal = sandbox.user(1008, "Hal")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(hal.id, "x" * 4097)
    await bot.send_message(hal.id, "x" * 4096)
    await bot.send_message(hal.id, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")  # tags don't count
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(hal.id, "")
    too_big = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="å", callback_data="å" * 33)]])
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):  # 66 bytes of UTF-8
        await bot.send_message(hal.id, "pick", reply_markup=too_big)
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(424242, "hello?")

    sent = await bot.send_message(hal.id, "pick", reply_markup=KEYBOARD)
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("pick", chat_id=hal.id, message_id=sent.message_id, reply_markup=KEYBOARD)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("new", chat_id=hal.id, message_id=999)
    await bot.edit_message_reply_markup(chat_id=hal.id, message_id=sent.message_id)
    assert hal.messages[-1].buttons == [] and hal.messages[-1].edited
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(chat_id=hal.id, message_id=sent.message_id)
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query("no-such-query")
    assert await bot.delete_message(hal.id, sent.message_id)
    assert hal.messages[-1].deleted
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(hal.id, sent.message_id)


async def test_commands_by_scope_and_language(sandbox: BotAPISandbox, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand(command="start", description="Start")])
    await bot.set_my_commands(
        [BotCommand(command="start", description="Börja"), BotCommand(command="hjalp", description="Hjälp")],
        scope=BotCommandScopeAllPrivateChats(),
        language_code="sv",
    )
    assert sandbox.commands == {
        ("default", None): [{"command": "start", "description": "Start"}],
        ("all_private_chats", "sv"): [
            {"command": "start", "description": "Börja"},
            {"command": "hjalp", "description": "Hjälp"},
        ],
    }
    got = await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats(), language_code="sv")
    assert [c.command for c in got] == ["start", "hjalp"]
    await bot.delete_my_commands()
    assert list(sandbox.commands) == [("all_private_chats", "sv")]
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Hjälp!", description="x")])
    assert await bot.send_chat_action(sandbox.user(1009).id, "typing")


# ---- webhooks ----------------------------------------------------------------------


async def serve_webhook(dp: Dispatcher, bot: Bot, **handler_kwargs: object) -> tuple[web.AppRunner, str]:
    app = web.Application()
    SimpleRequestHandler(dp, bot, **handler_kwargs).register(app, path="/webhook")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}/webhook"


async def test_webhook_delivers_updates(sandbox: BotAPISandbox, bot: Bot, seen: list[Message]) -> None:
    dp = Dispatcher()
    dp.include_router(echo_router(seen))
    runner, url = await serve_webhook(dp, bot, secret_token="s3cret")
    try:
        assert await bot.set_webhook(url, secret_token="s3cret")
        assert sandbox.webhook == {"url": url, "secret_token": "s3cret"}
        with pytest.raises(TelegramConflictError, match="can't use getUpdates method while webhook is active"):
            await bot.get_updates()

        ida = sandbox.user(1010, "Ida")
        await ida.send("/start xyz")
        assert (await ida.next_reply()).text == "Welcome! code=xyz"
        assert await ida.press("Yes") == CallbackAnswer("You chose yes", False)
        assert [m.message_id for m in seen] and sandbox.webhook_errors == []
        info = await bot.get_webhook_info()
        assert (info.url, info.pending_update_count) == (url, 0)

        assert await bot.delete_webhook()
        assert sandbox.webhook is None
        assert await bot.get_updates(timeout=0) == []
    finally:
        await runner.cleanup()  # also closes the bot session (SimpleRequestHandler.close)


async def test_webhook_wrong_secret_is_recorded(sandbox: BotAPISandbox, bot: Bot) -> None:
    dp = Dispatcher()
    dp.include_router(echo_router([]))
    runner, url = await serve_webhook(dp, bot, secret_token="s3cret")
    try:
        await bot.set_webhook(url, secret_token="not-the-secret")
        jo = sandbox.user(1011, "Jo")
        await jo.send("hello?")  # with a webhook, send() returns after the delivery
        assert sandbox.webhook_errors == [401]
        assert jo.messages == []
        info = await bot.get_webhook_info()
        assert info.last_error_message == "Wrong response from the webhook: 401 Unauthorized"
        with pytest.raises(TelegramBadRequest, match="bad webhook"):
            await bot.set_webhook("https://example.org/hook")
    finally:
        await runner.cleanup()


async def test_webhook_answer_with_method_in_response_body(sandbox: BotAPISandbox, bot: Bot) -> None:
    router = Router()

    @router.message()
    async def reply_inline(message: Message) -> SendMessage:
        return message.answer("answered in the webhook response")  # returned, not awaited

    dp = Dispatcher()
    dp.include_router(router)
    runner, url = await serve_webhook(dp, bot, handle_in_background=False)
    try:
        await bot.set_webhook(url)
        kim = sandbox.user(1012, "Kim")
        await kim.send("hi")
        assert [m.text for m in kim.messages] == ["answered in the webhook response"]
    finally:
        await runner.cleanup()


def test_users_are_cached_per_id() -> None:
    sandbox = BotAPISandbox()
    first = sandbox.user(5, "Lo", language_code="ar")
    assert sandbox.user(5) is first and isinstance(first, SandboxUser)
    assert first.language_code == "ar"
    with pytest.raises(RuntimeError, match="not started"):
        sandbox.url
