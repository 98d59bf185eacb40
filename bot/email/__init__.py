"""Sending email over SMTP (shared machinery: it knows no feature). See `bot.email.smtp`."""
