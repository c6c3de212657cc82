"""The per-language file options every contract in proto/ must carry, and the check for them.

buf's own lint rules (PACKAGE_SAME_GO_PACKAGE, PACKAGE_SAME_JAVA_PACKAGE, …) only demand that the
files of one package agree; a package where no file sets `go_package` passes them, and then
`protoc-gen-go` stops with "unable to determine Go import path". This check demands presence,
and the one naming scheme below, so generated packages get distinct, predictable names in every
language (`orderv1` in Go, `dev.oms.order.v1` in Java, `Oms.Order.V1` in C#, …).

``scripts/check-proto`` runs it on buf's image of proto/ (``python -m mesh.contract_options
IMAGE``); a unit test runs it on the descriptors of the committed ``oms`` package.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path

from google.protobuf import descriptor_pb2

GO_MODULE = "github.com/oms-mesh/oms/gen/go"
_PACKAGE = re.compile(r"^oms\.([a-z]+)\.(v[0-9]+)$")
# Objective-C has one namespace for all classes, so each service has its own three capitals
# (O, a letter of its name, X). Pinned here, like every other option, because buf.yaml lets
# buf breaking's FILE_SAME_* rules go: this check is what keeps the values from changing.
# A new service adds its prefix here.
OBJC_CLASS_PREFIXES = {
    "order": "OOX",
    "inventory": "OIX",
    "notify": "ONX",
    "payment": "OPX",
    "ops": "OSX",
    "options": "OTX",
}


def expected_options(package: str, file_name: str) -> dict[str, object]:
    """The options a file of ``package`` (``oms.<service>.v<N>``) named ``file_name`` must set."""
    match = _PACKAGE.match(package)
    if match is None:
        raise ValueError(f"package {package!r} is not of the form oms.<service>.v<N>")
    service, version = match.groups()
    title, major = service.capitalize(), version.capitalize()
    stem = Path(file_name).stem
    if service not in OBJC_CLASS_PREFIXES:
        raise ValueError(f"service {service!r} has no Objective-C prefix in OBJC_CLASS_PREFIXES")
    return {
        "go_package": f"{GO_MODULE}/oms/{service}/{version};{service}{version}",
        "java_package": f"dev.oms.{service}.{version}",
        "java_multiple_files": True,
        "java_outer_classname": "".join(part.capitalize() for part in stem.split("_")) + "Proto",
        "csharp_namespace": f"Oms.{title}.{major}",
        "php_namespace": f"Oms\\{title}\\{major}",
        "ruby_package": f"Oms::{title}::{major}",
        "objc_class_prefix": OBJC_CLASS_PREFIXES[service],
    }


def problems(files: Iterable[descriptor_pb2.FileDescriptorProto]) -> list[str]:
    """One line per missing or off-scheme option of the files of oms.* packages."""
    found: list[str] = []
    for file in files:
        if not file.package.startswith("oms."):
            continue  # vendored googleapis and the well-known types carry their own options
        try:
            expected = expected_options(file.package, file.name)
        except ValueError as error:
            found.append(f"{file.name}: {error}")
            continue
        present = {field.name: value for field, value in file.options.ListFields()}
        for option, value in expected.items():
            if option not in present:
                found.append(f"{file.name}: missing `option {option} = {_literal(value)};`")
            elif present[option] != value:
                found.append(
                    f"{file.name}: option {option} is {_literal(present[option])}, the scheme says {_literal(value)}"
                )
    return found


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return '"' + str(value).replace("\\", "\\\\") + '"'


def main(argv: list[str]) -> int:
    """Checks the FileDescriptorSet (a `buf build -o` image) named by the one argument."""
    if len(argv) != 1:
        sys.stderr.write("usage: python -m mesh.contract_options IMAGE.binpb\n")
        return 2
    image = descriptor_pb2.FileDescriptorSet.FromString(Path(argv[0]).read_bytes())
    found = problems(image.file)
    for line in found:
        sys.stderr.write(line + "\n")
    if found:
        sys.stderr.write(f"contract file options: {len(found)} problem(s); see mesh/contract_options.py\n")
        return 1
    checked = sum(file.package.startswith("oms.") for file in image.file)
    sys.stdout.write(f"contract file options: all {checked} files of proto/ carry them\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
