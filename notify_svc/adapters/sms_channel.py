"""SMS through an HTTP SMS gateway: one JSON POST per text message.

    POST <OMS_NOTIFY_SMS_GATEWAY_URL>
    Idempotency-Key: <notification_id>
    Authorization: Bearer <OMS_NOTIFY_SMS_GATEWAY_TOKEN>      (when set)
    {"id": "<notification_id>", "to": "+4930123456", "from": "OMS Shop", "text": "..."}

The notification id is both the message id and the idempotency key, so a resend after a crash
is recognisable as the same message. The development sink (``python -m notify_svc.dev_sms``)
speaks this; a provider with an API of its own (Twilio, Vonage) is one more adapter behind
the same ``Channel`` port.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from notify_svc.domain.model import Notification
from notify_svc.domain.orders import CustomerContact
from notify_svc.domain.planning import SMS_CHANNEL, Recipient
from notify_svc.service_layer.ports import DeliveryError

# E.164, as order_svc validates a customer's phone (a + and 7 to 15 digits, no leading 0).
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


@dataclass(frozen=True)
class SmsGatewayConfig:
    url: str
    sender: str = "OMS Shop"
    token: str | None = None
    timeout_s: float = 10.0


class SmsChannel:
    name = SMS_CHANNEL

    def __init__(self, config: SmsGatewayConfig, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._config = config
        # Tests hand in httpx.MockTransport.
        self._transport = transport

    def recipient_for(self, contact: CustomerContact) -> Recipient | None:
        phone = contact.phone.strip()
        if not phone:
            return None  # no phone number: this customer is told by email only
        if not E164.match(phone):
            return Recipient(phone, f"invalid phone number {phone!r}: not in E.164 form")
        return Recipient(phone)

    def request_body(self, notification: Notification) -> dict[str, str]:
        return {
            "id": notification.notification_id,
            "to": notification.recipient,
            "from": self._config.sender,
            "text": notification.message.body_text,
        }

    async def send(self, notification: Notification) -> None:
        headers = {"idempotency-key": notification.notification_id}
        if self._config.token:
            headers["authorization"] = f"Bearer {self._config.token}"
        try:
            async with httpx.AsyncClient(
                timeout=self._config.timeout_s, trust_env=False, transport=self._transport
            ) as client:
                response = await client.post(self._config.url, json=self.request_body(notification), headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"SMS gateway: {type(exc).__name__}: {exc}", retriable=True) from exc
        if 200 <= response.status_code < 300:
            return
        status = response.status_code
        retriable = status >= 500 or status in (408, 429)
        raise DeliveryError(f"SMS gateway answered {status}: {response.text[:200]}", retriable=retriable)
