"""Checks every request gets before any handler sees it, for every RPC of every service at once.

- Declared bounds (mesh.serving.bounds): string lengths, numbers of entries, integer ranges, email
  syntax. A repeated field's length is compared before any of its entries is looked at, so
  101 lines and 4 million lines cost the same.
- Enum values the contract does not define (proto3 enums are open: ``status = 99`` decodes).
- NUL characters: PostgreSQL text cannot hold U+0000; a NUL that reached a query would fail
  deep inside the database call.

What to check in a message type is worked out once per type (a ``_Plan``) and kept.
Violations name the field by its path (``items[3].product_id``) and never echo the value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from mesh.serving.bounds import bounds_of, is_integer, is_output_only
from mesh.values.email_address import email_problem
from mesh.values.violations import FieldViolation

_STRING = FieldDescriptor.TYPE_STRING
_BYTES = FieldDescriptor.TYPE_BYTES
_MESSAGE = FieldDescriptor.TYPE_MESSAGE
NUL = "\x00"
_NUL_PROBLEM = "must not contain NUL (U+0000) characters"

# Checks one present value of a field; returns the problem or None.
ValueCheck = Callable[[object], "str | None"]


@dataclass(frozen=True)
class _FieldRule:
    field: FieldDescriptor
    max_items: int
    min_items: int
    value_checks: tuple[ValueCheck, ...]
    nested: Descriptor | None
    map_value: FieldDescriptor | None
    presence: bool


@dataclass(frozen=True)
class _Plan:
    rules: tuple[_FieldRule, ...]


_PLANS: dict[str, _Plan] = {}


def request_violations(message: Message) -> list[FieldViolation]:
    """Every violation of ``message``'s declared bounds, enum values and NUL rule."""
    found: list[FieldViolation] = []
    _check_message(message, "", found)
    return found


def plan_of(descriptor: Descriptor) -> _Plan:
    """The checks of one message type, worked out on first use."""
    plan = _PLANS.get(descriptor.full_name)
    if plan is None:
        plan = _Plan(tuple(_rule(field) for field in descriptor.fields))
        _PLANS[descriptor.full_name] = plan
    return plan


def _check_message(message: Message, prefix: str, found: list[FieldViolation]) -> None:
    descriptor: Descriptor = message.DESCRIPTOR  # type: ignore[assignment]
    for rule in plan_of(descriptor).rules:
        field = rule.field
        path = prefix + field.name
        if rule.map_value is not None:
            _check_map(rule, getattr(message, field.name), path, found)
        elif field.is_repeated:
            _check_repeated(rule, getattr(message, field.name), path, found)
        elif rule.nested is not None:
            if message.HasField(field.name):
                _check_message(getattr(message, field.name), f"{path}.", found)
        elif not rule.presence or message.HasField(field.name):
            # An unset ``optional`` field is absent, not its default: nothing to check.
            _check_one(rule, getattr(message, field.name), path, found)


def _check_repeated(rule: _FieldRule, values: object, path: str, found: list[FieldViolation]) -> None:
    count = len(values)  # type: ignore[arg-type]
    if rule.max_items and count > rule.max_items:
        # Nothing inside is looked at: the cost does not grow with the entries sent.
        found.append(FieldViolation(path, f"at most {rule.max_items} entries, got {count}"))
        return
    if count < rule.min_items:
        unit = "entry" if rule.min_items == 1 else "entries"
        found.append(FieldViolation(path, f"at least {rule.min_items} {unit}, got {count}"))
    for index, value in enumerate(values):  # type: ignore[call-overload, var-annotated, arg-type]
        entry = f"{path}[{index}]"
        if rule.nested is not None:
            _check_message(value, f"{entry}.", found)
        else:
            _check_one(rule, value, entry, found)


def _check_map(rule: _FieldRule, entries: object, path: str, found: list[FieldViolation]) -> None:
    count = len(entries)  # type: ignore[arg-type]
    if rule.max_items and count > rule.max_items:
        found.append(FieldViolation(path, f"at most {rule.max_items} entries, got {count}"))
        return
    assert rule.map_value is not None
    value_field = rule.map_value
    for key, value in entries.items():  # type: ignore[attr-defined]
        entry = f"{path}[{_shown_key(key)}]"
        if isinstance(key, str) and NUL in key:
            found.append(FieldViolation(entry, _NUL_PROBLEM))
        if value_field.type == _MESSAGE:
            _check_message(value, f"{entry}.", found)
        elif value_field.type == _STRING and NUL in value:
            found.append(FieldViolation(entry, _NUL_PROBLEM))


def _shown_key(key: object) -> str:
    text = repr(key)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_one(rule: _FieldRule, value: object, path: str, found: list[FieldViolation]) -> None:
    for check in rule.value_checks:
        problem = check(value)
        if problem is not None:
            found.append(FieldViolation(path, problem))
            return  # one problem per value: an over-long string is not scanned further


def _rule(field: FieldDescriptor) -> _FieldRule:
    declared = None if is_output_only(field) else bounds_of(field)
    map_value = None
    nested = None
    message_type = field.message_type
    if message_type is not None:
        if message_type.GetOptions().map_entry:
            map_value = message_type.fields_by_name["value"]
            nested = map_value.message_type
        else:
            nested = message_type
    checks: list[ValueCheck] = []
    if field.type in (_STRING, _BYTES) and declared is not None:
        checks += _length_checks(declared.min_len, declared.max_len, "characters" if field.type == _STRING else "bytes")
    if field.type == _STRING:
        checks.append(_no_nul)
        if declared is not None and declared.email:
            checks.append(_email)
    if is_integer(field) and declared is not None and declared.has_range:
        checks.append(_range_check(declared.min, declared.max))
    if field.enum_type is not None:
        checks.append(_enum_check(frozenset(v.number for v in field.enum_type.values)))
    return _FieldRule(
        field=field,
        max_items=declared.max_items if declared is not None else 0,
        min_items=declared.min_items if declared is not None else 0,
        value_checks=tuple(checks),
        nested=nested,
        map_value=map_value,
        presence=bool(field.has_presence) and not field.is_repeated,
    )


def _length_checks(min_len: int, max_len: int, unit: str) -> list[ValueCheck]:
    checks: list[ValueCheck] = []
    if max_len:

        def too_long(value: object) -> str | None:
            size = len(value)  # type: ignore[arg-type]
            return f"at most {max_len} {unit}, got {size}" if size > max_len else None

        checks.append(too_long)
    if min_len:

        def too_short(value: object) -> str | None:
            size = len(value)  # type: ignore[arg-type]
            if size >= min_len:
                return None
            return "must not be empty" if size == 0 else f"at least {min_len} {unit}, got {size}"

        checks.append(too_short)
    return checks


def _no_nul(value: object) -> str | None:
    return _NUL_PROBLEM if NUL in value else None  # type: ignore[operator]


def _email(value: object) -> str | None:
    if not value:
        return None  # presence is the handler's rule (an update may leave the address alone)
    problem = email_problem(str(value))
    return None if problem is None else f"not an email address: {problem}"


def _range_check(low: int, high: int) -> ValueCheck:
    def out_of_range(value: object) -> str | None:
        return None if low <= value <= high else f"must be within {low}..{high}"  # type: ignore[operator]

    return out_of_range


def _enum_check(numbers: frozenset[int]) -> ValueCheck:
    def unknown(value: object) -> str | None:
        return None if value in numbers else f"unknown value {value}"

    return unknown
