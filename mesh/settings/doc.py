"""Prints the configuration table of every process, from the settings classes themselves.

The README's "Configuration" table is this output (a unit test keeps them equal), so the
documentation cannot drift from the code. A field's description is its pydantic
``description`` or, failing that, the comment lines right above it in the class body.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings

REPO = Path(__file__).resolve().parents[2]

# (module, class, who reads it)
SETTINGS: list[tuple[str, str, str]] = [
    ("mesh.settings.common", "KafkaSettings", "every service"),
    ("mesh.settings.common", "RedisSettings", "order, inventory"),
    ("mesh.auth.settings", "AuthSettings", "gateway and every service"),
    ("mesh.settings.common", "DeploymentSettings", "gateway and every service"),
    ("mesh.auth.tls", "TlsSettings", "gateway and every service"),
    ("mesh.telemetry.logs", "LogSettings", "every process"),
    ("mesh.storage.paging", "PageTokenSettings", "order, inventory, notify, payment"),
    ("order_svc.settings", "OrderSettings", "order_svc"),
    ("inventory_svc.settings", "InventorySettings", "inventory_svc"),
    ("notify_svc.settings", "NotifySettings", "notify_svc"),
    ("payment_svc.settings", "PaymentSettings", "payment_svc"),
    ("gateway.settings", "GatewaySettings", "gateway"),
]


def _comments_above_fields(cls: type) -> dict[str, str]:
    """Field name → the comment block just above its annotation, for ``cls`` and its bases."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not (isinstance(klass, type) and issubclass(klass, BaseSettings)) or klass is BaseSettings:
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                comment: list[str] = []
                index = node.lineno - 2
                while index >= 0 and lines[index].strip().startswith("#"):
                    comment.insert(0, lines[index].strip().lstrip("#").strip())
                    index -= 1
                if comment:
                    found[node.target.id] = " ".join(comment)
    return found


def _default(value: Any) -> str:
    if value is None or value == "":
        return "(empty)"
    if hasattr(value, "get_secret_value"):
        return "(dev secret)"
    text = ",".join(str(v) for v in value) if isinstance(value, tuple | list | frozenset | set) else str(value)
    # Defaults derived from where the checkout lives must read the same in every clone.
    return text.replace(str(REPO), "<repo>")


def rows() -> list[tuple[str, str, str, str]]:
    table = []
    for module_name, class_name, reader in SETTINGS:
        cls = getattr(importlib.import_module(module_name), class_name)
        prefix = str(cls.model_config.get("env_prefix", ""))
        comments = _comments_above_fields(cls)
        for name, field in cls.model_fields.items():
            required = field.is_required()
            default = "**required**" if required else _default(field.get_default(call_default_factory=True))
            meaning = field.description or comments.get(name, "")
            table.append(((prefix + name).upper(), default, reader, meaning))
    return table


def markdown() -> str:
    lines = ["| variable | default | read by | meaning |", "|---|---|---|---|"]
    for variable, default, reader, meaning in rows():
        lines.append(f"| `{variable}` | `{default}` | {reader} | {meaning.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")  # noqa: T201 - this module's job is to print
