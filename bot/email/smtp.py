"""Sending one multipart (plain text + HTML) email over SMTP, with a timeout.

Stdlib `smtplib` in a worker thread (`asyncio.to_thread`), so no new dependency and the event loop
never blocks. Every way a send can go wrong — the server refuses (a 4xx/5xx reply), does not
answer within the timeout, drops the connection, cannot be reached — is one `EmailNotSent`
whose message is safe to store and log (never the password): the caller decides to retry.
"""

from __future__ import annotations

import asyncio
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

DEFAULT_TIMEOUT = 30.0  # seconds, for connecting and for each reply of the server


@dataclass(frozen=True)
class SmtpServer:
    """Where mail goes and as whom; `password` is never shown (repr)."""

    host: str
    port: int
    starttls: bool
    sender: str
    user: str | None = None
    password: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    def __repr__(self) -> str:
        return f"SmtpServer({self.host}:{self.port}, starttls={self.starttls}, user={self.user!r}, sender={self.sender!r})"

    @classmethod
    def from_settings(cls, settings: object, timeout: float = DEFAULT_TIMEOUT) -> SmtpServer | None:
        """The server of STEGVIS_SMTP_*; None when no host or sender address is set."""
        host, sender = getattr(settings, "smtp_host", None), getattr(settings, "smtp_from", None)
        if not host or not sender:
            return None
        return cls(
            host=host, port=getattr(settings, "smtp_port"), starttls=getattr(settings, "smtp_starttls"), sender=sender,
            user=getattr(settings, "smtp_user", None), password=getattr(settings, "smtp_password", None), timeout=timeout,
        )


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str


class EmailNotSent(Exception):
    """The email did not reach the server; str() says why (no secrets). Worth trying again."""


def build_message(server: SmtpServer, email: Email) -> EmailMessage:
    message = EmailMessage()
    message["From"] = server.sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False)  # the header only: no clock decides anything
    message["Message-ID"] = make_msgid(domain=server.sender.rpartition("@")[2] or None)
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


def _send_blocking(server: SmtpServer, message: EmailMessage) -> None:
    with smtplib.SMTP(server.host, server.port, timeout=server.timeout) as smtp:
        smtp.ehlo()
        if server.starttls:
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if server.user:
            smtp.login(server.user, server.password or "")
        refused = smtp.send_message(message)
        if refused:
            raise EmailNotSent(f"the server refused the recipient(s): {', '.join(sorted(refused))}")


async def send_email(server: SmtpServer, email: Email) -> None:
    """Send `email`, or raise EmailNotSent."""
    message = build_message(server, email)
    try:
        await asyncio.to_thread(_send_blocking, server, message)
    except EmailNotSent:
        raise
    except smtplib.SMTPAuthenticationError as error:
        raise EmailNotSent(f"the server refused the login ({error.smtp_code})") from None
    except smtplib.SMTPResponseException as error:
        raise EmailNotSent(f"the server refused: {error.smtp_code} {_said(error.smtp_error)}") from None
    except smtplib.SMTPRecipientsRefused as error:
        raise EmailNotSent(f"the server refused the recipient(s): {', '.join(sorted(error.recipients))}") from None
    except (socket.timeout, TimeoutError):
        raise EmailNotSent(f"the server did not answer within {server.timeout:g} s") from None
    except smtplib.SMTPServerDisconnected as error:
        # smtplib turns a reply that never came into "Connection unexpectedly closed: timed out".
        if "timed out" in str(error):
            raise EmailNotSent(f"the server did not answer within {server.timeout:g} s") from None
        raise EmailNotSent("the server closed the connection") from None
    except (smtplib.SMTPException, OSError, ssl.SSLError) as error:
        raise EmailNotSent(f"{type(error).__name__}: {error}") from None


def _said(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())[:200]
