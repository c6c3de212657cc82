"""A development mail sink: accepts every mail, keeps it, logs one line per mail.

    python -m notify_svc.dev_smtp --port 1025 --maildir .oms/mail

Mails are stored in a Maildir (``new/`` holds one file per mail, readable by any mail client).
Tests reuse ``MailSink`` with aiosmtpd's ``Controller``.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import logging
import mailbox
import signal
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP

from mesh.telemetry.logs import configure_logging

log = logging.getLogger("notify_svc.dev_smtp")


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message_id: str
    subject: str
    to: str
    text: str
    raw: bytes


def parse(mail_from: str, rcpt_tos: list[str], raw: bytes) -> ReceivedMail:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    # With the default policy the parser builds EmailMessage objects, which know their body parts.
    body = message.get_body(preferencelist=("plain",)) if isinstance(message, EmailMessage) else None
    text = body.get_content() if isinstance(body, EmailMessage) else ""
    return ReceivedMail(
        mail_from=mail_from,
        rcpt_tos=tuple(rcpt_tos),
        message_id=str(message.get("Message-ID", "")),
        subject=str(message.get("Subject", "")),
        to=str(message.get("To", "")),
        text=str(text),
        raw=raw,
    )


class MailSink:
    """aiosmtpd handler that accepts every mail; subclasses may refuse or slow some down."""

    def __init__(self, maildir: Path | None = None) -> None:
        self.received: list[ReceivedMail] = []
        if maildir:
            # Maildir(create=True) makes tmp/new/cur only when the folder itself is new; an
            # existing empty folder (e.g. made by a script) would fail every delivery.
            for sub in ("tmp", "new", "cur"):
                (Path(maildir) / sub).mkdir(parents=True, exist_ok=True)
        self._maildir = mailbox.Maildir(maildir, create=True) if maildir else None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        mail = parse(envelope.mail_from, list(envelope.rcpt_tos), bytes(raw))
        if self._maildir is not None:
            self._maildir.add(mail.raw)
        self.received.append(mail)
        log.info("mail to=%s subject=%r message_id=%s", ",".join(mail.rcpt_tos), mail.subject, mail.message_id)
        return "250 2.0.0 OK: queued"


async def serve_sink(host: str, port: int, sink: MailSink, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(sink, hostname="dev-smtp"), host, port)
    log.info("dev SMTP sink listening on %s:%d", host, port)
    try:
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m notify_svc.dev_smtp", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--maildir", type=Path, default=None, help="store every mail here (Maildir)")
    args = parser.parse_args(argv)
    configure_logging("dev-smtp", fmt="text")

    async def run() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await serve_sink(args.host, args.port, MailSink(args.maildir), stop)

    asyncio.run(run())


if __name__ == "__main__":
    main()
