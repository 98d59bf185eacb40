"""Stegvis Telegram bot."""

from bot import lazy_aiogram

lazy_aiogram.install()  # before anything imports aiogram
