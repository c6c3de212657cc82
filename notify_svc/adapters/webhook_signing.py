"""Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256 over
``{webhook-id}.{webhook-timestamp}.{body}`` with the endpoint's key, base64, as ``v1,<signature>``.

Signing the id and the timestamp with the body lets a receiver refuse a replayed or re-dated
request; the receiver's side, in a few lines, is in docs/webhooks.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from notify_svc.domain.webhooks import secret_key

VERSION = "v1"


def signature(secret: str, delivery_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return f"{VERSION},{base64.b64encode(digest).decode()}"
