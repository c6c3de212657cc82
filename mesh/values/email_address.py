"""Is an address worth handing to the mail server? A syntax check, deliberately conservative.

Delivery is the real test; this only catches what can never work (empty, no domain, spaces,
line breaks that would inject headers). It is the one check of the mesh: request fields
declared ``email`` are refused with it at the edge (mesh.serving.request_checks), and notify_svc fails
a notification at once with it instead of burning retries on an address stored before.
"""

from __future__ import annotations

import re

MAX_ADDRESS = 254
MAX_LOCAL = 64
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def email_problem(address: str) -> str | None:
    """None when ``address`` looks deliverable, else why not (one short phrase)."""
    if not address:
        return "no email address"
    if len(address) > MAX_ADDRESS:
        return f"longer than {MAX_ADDRESS} characters"
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in address):
        return "contains whitespace or control characters"
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return "not of the form local@domain"
    if len(local) > MAX_LOCAL:
        return f"local part longer than {MAX_LOCAL} characters"
    if not _LOCAL.match(local) or local.startswith(".") or local.endswith(".") or ".." in local:
        return "invalid local part"
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return "invalid domain"
    return None
