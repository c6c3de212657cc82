"""Every contract carries the per-language file options generators need, in the one scheme."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

from mesh.contract_options import expected_options, main, problems

ROOT = Path(__file__).resolve().parents[3]


def committed_files() -> list[descriptor_pb2.FileDescriptorProto]:
    """The descriptors of the committed `oms` package: what scripts/gen-proto made from proto/."""
    files = []
    for module in sorted((ROOT / "oms").rglob("*_pb2.py")):
        name = ".".join(module.relative_to(ROOT).with_suffix("").parts)
        proto = descriptor_pb2.FileDescriptorProto()
        importlib.import_module(name).DESCRIPTOR.CopyToProto(proto)
        files.append(proto)
    return files


def order_file(**options: object) -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto(name="oms/order/v1/order.proto", package="oms.order.v1")
    for option, value in (expected_options("oms.order.v1", "order.proto") | options).items():
        if value is not None:
            setattr(file.options, option, value)
    return file


def test_every_committed_contract_carries_every_option() -> None:
    files = committed_files()
    assert len(files) >= 12
    assert problems(files) == []


def test_the_scheme_names_distinct_packages_in_every_language() -> None:
    names: dict[str, set[object]] = {}
    by_package = {f.package: f for f in committed_files()}
    for package, file in by_package.items():
        for option, value in expected_options(package, file.name).items():
            if option not in ("java_multiple_files", "java_outer_classname"):
                names.setdefault(option, set()).add(value)
    for option, values in names.items():
        assert len(values) == len(by_package), f"two packages share a {option}"
    assert expected_options("oms.order.v1", "order.proto")["go_package"] == (
        "github.com/oms-mesh/oms/gen/go/oms/order/v1;orderv1"
    )
    assert expected_options("oms.payment.v1", "events.proto") | {"java_outer_classname": "-"} == {
        "go_package": "github.com/oms-mesh/oms/gen/go/oms/payment/v1;paymentv1",
        "java_package": "dev.oms.payment.v1",
        "java_multiple_files": True,
        "java_outer_classname": "-",
        "csharp_namespace": "Oms.Payment.V1",
        "php_namespace": "Oms\\Payment\\V1",
        "ruby_package": "Oms::Payment::V1",
        "objc_class_prefix": "OPX",
    }


def test_a_missing_option_is_named_with_the_line_to_add() -> None:
    assert problems([order_file(go_package=None)]) == [
        'oms/order/v1/order.proto: missing `option go_package = "github.com/oms-mesh/oms/gen/go/oms/order/v1;orderv1";`'
    ]
    assert problems([order_file(java_multiple_files=None)]) == [
        "oms/order/v1/order.proto: missing `option java_multiple_files = true;`"
    ]


def test_an_option_off_the_scheme_is_a_problem() -> None:
    assert problems([order_file(csharp_namespace="Oms.Orders")]) == [
        'oms/order/v1/order.proto: option csharp_namespace is "Oms.Orders", the scheme says "Oms.Order.V1"'
    ]
    assert problems([order_file(java_multiple_files=False)]) != []
    assert problems([order_file(objc_class_prefix="OIX")]) != []


def test_a_package_outside_the_scheme_or_without_a_prefix_is_a_problem() -> None:
    odd = descriptor_pb2.FileDescriptorProto(name="oms/orders.proto", package="oms.orders")
    new = descriptor_pb2.FileDescriptorProto(name="oms/refund/v1/refund.proto", package="oms.refund.v1")
    found = problems([odd, new])
    assert "not of the form oms.<service>.v<N>" in found[0]
    assert "OBJC_CLASS_PREFIXES" in found[1]


def test_vendored_files_are_not_checked() -> None:
    assert problems([descriptor_pb2.FileDescriptorProto(name="google/type/money.proto", package="google.type")]) == []


@pytest.mark.parametrize("broken", [False, True])
def test_the_command_reads_a_buf_image_and_fails_on_a_problem(
    tmp_path: Path, broken: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "image.binpb"
    files = [order_file(ruby_package=None if broken else "Oms::Order::V1")]
    image.write_bytes(descriptor_pb2.FileDescriptorSet(file=files).SerializeToString())
    assert main([str(image)]) == (1 if broken else 0)
    assert ("ruby_package" in capsys.readouterr().err) is broken
