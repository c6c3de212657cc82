from __future__ import annotations

import pytest
from google.type import money_pb2

from mesh.serving import wire
from mesh.serving.errors import InvalidArgument
from mesh.settings.common import SettingsError, load
from mesh.storage.paging import MAX_PAGE_SIZE, page_size
from order_svc.settings import OrderSettings


def test_page_size_defaults_and_caps() -> None:
    assert page_size(0) == 50
    assert page_size(10_000) == MAX_PAGE_SIZE
    with pytest.raises(InvalidArgument):
        page_size(-1)


def test_money_round_trip_in_cents() -> None:
    assert wire.minor_units(wire.money(12345, "EUR")) == 12345
    assert wire.money(199, "EUR") == money_pb2.Money(currency_code="EUR", units=1, nanos=990_000_000)
    with pytest.raises(ValueError):
        wire.minor_units(money_pb2.Money(currency_code="EUR", units=1, nanos=1))
    with pytest.raises(ValueError):
        wire.minor_units(money_pb2.Money(currency_code="EUR", units=1, nanos=-10_000_000))


def test_a_malformed_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMS_ORDER_GRPC_PORT", "abc")
    with pytest.raises(SettingsError) as raised:
        load(OrderSettings)
    assert "OMS_ORDER_GRPC_PORT='abc'" in str(raised.value)
