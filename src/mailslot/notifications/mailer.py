"""Sending a notice by SMTP, with the standard library's ``smtplib``.

``MAILSLOT_SMTP_URL`` chooses the transport: ``smtps://`` (TLS from the start, port 465),
``smtp://`` with ``?starttls=1`` (upgrade, port 587), or plain ``smtp://`` (port 25; only for
a relay on the same machine). User name and password come from the URL.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Final
from urllib.parse import parse_qs, unquote, urlsplit

from mailslot.errors import ConfigError
from mailslot.i18n import N_, language, translate

# In the recipient's language (``users.locale``, else the organisation's default).
SUBJECT: Final = N_("New activity in Mailslot")
BODY: Final = N_(
    "Something new is waiting for you in Mailslot.\n\n"
    "Log in to read it. This message says nothing more on purpose: it does not say what\n"
    "arrived, from whom, or for which channel.\n"
)
TIMEOUT: Final = 30


@dataclass(frozen=True, slots=True, repr=False)
class SmtpSettings:
    host: str
    port: int
    tls: bool
    starttls: bool
    username: str | None
    password: str | None
    sender: str

    def __repr__(self) -> str:
        return f"SmtpSettings({self.host}:{self.port}, tls={self.tls}, starttls={self.starttls})"


def parse_smtp_url(url: str, sender: str) -> SmtpSettings:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError("MAILSLOT_SMTP_URL must look like smtps://user:pass@host:465")
    query = parse_qs(parts.query)
    starttls = query.get("starttls", ["0"])[0] in ("1", "true", "yes")
    tls = parts.scheme == "smtps"
    port = parts.port or (465 if tls else 587 if starttls else 25)
    if "@" not in sender:
        raise ConfigError("MAILSLOT_SMTP_FROM must be an email address")
    return SmtpSettings(
        host=parts.hostname,
        port=port,
        tls=tls,
        starttls=starttls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        sender=sender,
    )


def message(settings: SmtpSettings, to: str, locale: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = settings.sender
    mail["To"] = to
    mail["Subject"] = translate(locale, SUBJECT)
    mail.set_content(translate(locale, BODY))
    mail["Content-Language"] = language(locale).tag  # after set_content, which resets it
    return mail


def send_notice(settings: SmtpSettings, to: str, locale: str) -> None:
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if settings.tls:
        client = smtplib.SMTP_SSL(settings.host, settings.port, timeout=TIMEOUT, context=context)
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=TIMEOUT)
    with client:
        if settings.starttls:
            client.starttls(context=context)
        if settings.username:
            client.login(settings.username, settings.password or "")
        client.send_message(message(settings, to, locale))
