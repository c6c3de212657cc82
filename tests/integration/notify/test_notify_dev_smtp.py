"""The dev mail sink (``python -m notify_svc.dev_smtp``) receives what the email channel sends."""

from __future__ import annotations

import asyncio
import mailbox
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from notify_svc.adapters.email_channel import EmailChannel, SmtpConfig
from notify_svc.domain.model import Notification, RenderedMessage
from testkit.wait import eventually
from tests.integration.notify.support import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


async def test_the_dev_sink_stores_each_mail_and_logs_one_line(tmp_path: Path) -> None:
    port = free_port()
    maildir = tmp_path / "mail"
    sink = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "notify_svc.dev_smtp", "--port", str(port), "--maildir", str(maildir),
        cwd=ROOT, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        channel = EmailChannel(SmtpConfig(host="127.0.0.1", port=port, mail_from="OMS Shop <orders@oms.local>"))
        notification = Notification.pending(
            notification_id="7d0c4a53-2a59-4c1e-9d55-0f1f3e0c0001",
            event_id="ev-1",
            event_type="oms.order.v1.OrderPlaced",
            order_id="ord-1",
            customer_id="cust-1",
            channel="email",
            recipient="ada@example.com",
            message=RenderedMessage("We received your order ord-1", "Total: 19.25 EUR\n"),
            now=datetime.now(UTC),
        )

        async def send() -> bool:
            try:
                await channel.send(notification)
                return True
            except Exception:
                return False  # not listening yet

        await eventually(send, timeout_s=30, interval_s=0.1, what="the sink accepted a mail")
        stored = list(mailbox.Maildir(maildir, create=False))
        assert len(stored) == 1
        assert stored[0]["Message-ID"] == "<7d0c4a53-2a59-4c1e-9d55-0f1f3e0c0001@oms.local>"
        assert stored[0]["Subject"] == "We received your order ord-1"
    finally:
        sink.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(sink.communicate(), timeout=30)
    lines = [line for line in stderr.decode().splitlines() if "to=ada@example.com" in line]
    assert len(lines) == 1 and "We received your order ord-1" in lines[0], stderr.decode()
    assert sink.returncode == 0
