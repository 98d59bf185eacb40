"""The caseworkers' digest delivered: Telegram links, the daily send (outbox and SMTP), its record."""
