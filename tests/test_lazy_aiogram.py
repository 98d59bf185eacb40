"""aiogram's types are built on first use (bot/lazy_aiogram.py), and still parse and serialize."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHECK = """
import bot  # installs the lazy build before aiogram is imported
import aiogram.types as types
from aiogram.methods import SendMessage
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram import Bot

assert not types.Poll.__pydantic_complete__, "every aiogram type was built at import"
update = types.Update.model_validate({
    "update_id": 7,
    "callback_query": {
        "id": "1", "chat_instance": "c", "data": "s:reminder:ask:coming:7v2",
        "from": {"id": 5, "is_bot": False, "first_name": "Amina", "language_code": "so"},
        "message": {"message_id": 3, "date": 0, "chat": {"id": 5, "type": "private"}, "text": "Kan du komma?",
                    "reply_markup": {"inline_keyboard": [[{"text": "Haa", "callback_data": "s:reminder:ask:coming:7v2"}]]}},
    },
})
assert update.callback_query.message.reply_markup.inline_keyboard[0][0].text == "Haa"
assert update.callback_query.from_user.language_code == "so"
keyboard = types.InlineKeyboardMarkup(inline_keyboard=[[types.InlineKeyboardButton(text="Jag kommer", callback_data="s:x:y:z")]])
method = SendMessage(chat_id=5, text="Påminnelse", reply_markup=keyboard)
session = AiohttpSession()
form = session.build_form_data(Bot("1:A", session=session), method)
fields = {field[0]["name"]: field[2] for field in form._fields}
assert fields["chat_id"] == "5" and "Jag kommer" in fields["reply_markup"], fields
print("ok")
"""


def test_aiogram_types_are_built_on_first_use_and_still_parse_and_serialize() -> None:
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, cwd=ROOT, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
