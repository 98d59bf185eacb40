"""Stegvis Telegram bot."""
