"""Email over SMTP (aiosmtplib): STARTTLS or implicit TLS and credentials from settings.

Every message carries ``Message-ID: <notification_id@domain>`` and a Date taken from when the
notification was recorded, so a resend after a crash is the same message, byte for byte in its
headers, and receivers or MTAs that deduplicate on Message-ID drop the copy.

Each send is a CLIENT span (``smtp send``) of the order's trace, continuing the context stored
with the notification when the event was consumed.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from mesh.telemetry.logs import ORDER_ID_ATTRIBUTE, order_scope
from mesh.values.email_address import email_problem
from notify_svc.domain.model import Notification
from notify_svc.domain.orders import CustomerContact
from notify_svc.domain.planning import Recipient
from notify_svc.service_layer.ports import DeliveryError

_tracer = trace.get_tracer("oms.notify.email")
log = logging.getLogger(__name__)


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
        with send_span(notification, self._config) as span, order_scope(notification.order_id):
            try:
                await self._send(notification)
                # Inside the span: the line names the order's trace (and never the address).
                log.info(
                    "email accepted by the mail server",
                    extra={"notification_id": notification.notification_id, "attempt": notification.attempts},
                )
            except DeliveryError as exc:
                # Not the error's text: a server's reply may quote the recipient's address.
                cause = exc.__cause__ or exc
                span.set_attribute("error.type", type(cause).__name__)
                span.set_attribute("notification.retriable", exc.retriable)
                if isinstance(cause, aiosmtplib.SMTPResponseException):
                    span.set_attribute("smtp.response.code", cause.code)
                span.set_status(Status(StatusCode.ERROR, "retriable" if exc.retriable else "permanent"))
                raise
            except BaseException as exc:  # a bug or a cancel: the dispatcher deals with it
                span.set_attribute("error.type", type(exc).__name__)
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise

    async def _send(self, notification: Notification) -> None:
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


def send_span(notification: Notification, config: SmtpConfig) -> AbstractContextManager[Span]:
    """The CLIENT span of one SMTP send, a child of the span that recorded the notification
    (the event's consume span, stored with the row), so the order's trace ends at the mail
    server. Addresses stay out of it: the server's, not the recipient's or the sender's."""
    attributes: dict[str, str | int] = {
        "server.address": config.host,
        "server.port": config.port,
        "network.transport": "tcp",
        "network.protocol.name": "smtp",
        "notification.id": notification.notification_id,
        "notification.channel": "email",
        "notification.attempt": notification.attempts,
        "cloudevents.event_id": notification.event_id,
        ORDER_ID_ATTRIBUTE: notification.order_id,
    }
    return _tracer.start_as_current_span(
        "smtp send",
        context=propagate.extract(notification.trace_context),
        kind=SpanKind.CLIENT,
        attributes=attributes,
        # A DeliveryError is a recorded outcome (status and error.type), not an exception event
        # whose message could quote the server's reply about a recipient.
        record_exception=False,
        set_status_on_exception=False,
    )


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
