"""Email over SMTP (aiosmtplib): STARTTLS or implicit TLS and credentials from settings.

Every message carries ``Message-ID: <notification_id@domain>`` and a Date taken from when the
notification was recorded, so a resend after a crash is the same message, byte for byte in its
headers, and receivers or MTAs that deduplicate on Message-ID drop the copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from mesh.values.email_address import email_problem
from notify_svc.domain.model import Notification
from notify_svc.domain.orders import CustomerContact
from notify_svc.domain.planning import Recipient
from notify_svc.service_layer.ports import DeliveryError


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    mail_from: str
    message_id_domain: str = "oms.local"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    tls: bool = False
    validate_certs: bool = True
    timeout_s: float = 10.0


class EmailChannel:
    name = "email"

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    def recipient_for(self, contact: CustomerContact) -> Recipient:
        address = contact.email.strip()
        problem = email_problem(address)
        if problem is None:
            return Recipient(address)
        if not address:
            return Recipient("", "the customer has no email address")
        return Recipient(address, f"invalid email address {address!r}: {problem}")

    def message_id(self, notification: Notification) -> str:
        return f"<{notification.notification_id}@{self._config.message_id_domain}>"

    def build(self, notification: Notification) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._config.mail_from
        message["To"] = notification.recipient
        message["Subject"] = notification.message.subject
        message["Message-ID"] = self.message_id(notification)
        message["Date"] = formatdate(notification.create_time.timestamp(), usegmt=True)
        message["X-OMS-Event-Id"] = notification.event_id
        message["X-OMS-Order-Id"] = notification.order_id
        message.set_content(notification.message.body_text)
        if notification.message.body_html:
            message.add_alternative(notification.message.body_html, subtype="html")
        return message

    async def send(self, notification: Notification) -> None:
        try:
            message = self.build(notification)
        except ValueError as exc:  # e.g. a header with a line break: it will never get better
            raise DeliveryError(f"cannot build the email: {exc}", retriable=False) from exc
        config = self._config
        try:
            await aiosmtplib.send(
                message,
                hostname=config.host,
                port=config.port,
                username=config.username,
                password=config.password,
                use_tls=config.tls,
                start_tls=config.starttls,
                validate_certs=config.validate_certs,
                timeout=config.timeout_s,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise classify(exc) from exc


def classify(exc: BaseException) -> DeliveryError:
    """Permanent only when the server refused this message for good (5xx on RCPT or DATA).

    Everything else is about the server or our configuration (connection refused, timeouts,
    4xx, authentication, a refused sender) and may well work later.
    """
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        detail = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
        return DeliveryError(f"recipient refused: {detail}", retriable=not all(500 <= c < 600 for c in codes))
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError):
        what = "recipient" if isinstance(exc, aiosmtplib.SMTPRecipientRefused) else "message"
        return DeliveryError(f"{what} refused: {exc.code} {exc.message}", retriable=not 500 <= exc.code < 600)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return DeliveryError(f"{type(exc).__name__}: {exc.code} {exc.message}", retriable=True)
    return DeliveryError(f"{type(exc).__name__}: {exc}", retriable=True)
