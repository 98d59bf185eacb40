"""A local stand-in for Telegram's Bot API server, for the demo, the tests and the benches.

`BotAPISandbox` is a small aiohttp server that speaks enough of the Bot API HTTP
protocol for the *real* aiogram stack to run against it unchanged (long polling,
webhooks, messages with inline keyboards, callback queries, commands), and it also
plays the Telegram users (`SandboxUser`) so a test can drive the bot as a person would::

    async with BotAPISandbox() as sandbox:
        bot = Bot(sandbox.token,
                  session=AiohttpSession(api=TelegramAPIServer.from_base(sandbox.url)))
        ...start polling or set a webhook...
        anna = sandbox.user(1001, "Anna", language_code="sv")
        await anna.send("/start ABC123")
        welcome = await anna.next_reply()
        answer = await anna.press("Svenska")
        print("\\n".join(anna.transcript))

Only 127.0.0.1 is ever involved: the server binds to loopback and webhooks may only
point at 127.0.0.1/localhost, so nothing here can reach the internet.

Deliberate simplifications (compared with Telegram):
* only private chats (chat.id == user.id) exist; a chat is known once `sandbox.user(id)`
  has created the user, any other chat_id is "chat not found";
* parse_mode is not applied: the stored text is exactly what the bot sent (markup
  included), it is only stripped of HTML tags to measure its length;
* one webhook delivery at a time, in update order (Telegram may use up to 40).

Where things are: `server` (BotAPISandbox: lifecycle, HTTP, update queue, dispatch),
`methods` (the Bot API methods and Telegram's checks on them), `webhook` (delivering
an update to the bot's webhook), `users` (SandboxUser, SentMessage, CallbackAnswer,
transcripts). users.py imports none of the others: what a participant needs from the
server is a Protocol there.
"""

from bot.sandbox.server import BotAPISandbox
from bot.sandbox.users import CallbackAnswer, SandboxUser, SentMessage

__all__ = ["BotAPISandbox", "CallbackAnswer", "SandboxUser", "SentMessage"]
