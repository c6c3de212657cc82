"""Comments from the ``.proto`` sources, for OpenAPI descriptions.

Generated ``_pb2`` modules carry no source info, so at startup the sources are compiled once
with the protoc bundled in ``grpc_tools`` into a descriptor set *with* source info, and the
leading comments are indexed by full name. Without grpc_tools or the sources the document is
still produced, only without descriptions (a warning is logged).
"""

from __future__ import annotations

import importlib.resources
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

from google.protobuf import descriptor_pb2

log = logging.getLogger(__name__)

Path_ = tuple[int, ...]
# Field numbers inside descriptor.proto that SourceCodeInfo paths are made of.
_FILE_MESSAGE, _FILE_ENUM, _FILE_SERVICE = 4, 5, 6
_MESSAGE_FIELD, _MESSAGE_NESTED, _MESSAGE_ENUM = 2, 3, 4
_ENUM_VALUE, _SERVICE_METHOD = 2, 2


def load_comments(proto_path: Sequence[Path]) -> dict[str, str]:
    """Full name (``pkg.Msg.field``, ``pkg.Enum.VALUE``, ``pkg.Svc.Method``) → comment."""
    roots = [p for p in proto_path if p.is_dir()]
    if not roots:
        log.warning("no .proto sources under %s: OpenAPI has no descriptions", [str(p) for p in proto_path])
        return {}
    try:
        descriptor_set = _compile(roots)
    except (ImportError, RuntimeError) as exc:
        log.warning("cannot read .proto comments (%s): OpenAPI has no descriptions", exc)
        return {}
    comments: dict[str, str] = {}
    for file in descriptor_set.file:
        names = _names(file)
        for location in file.source_code_info.location:
            name = names.get(tuple(location.path))
            text = _clean(location.leading_comments or location.trailing_comments)
            if name and text:
                comments[name] = text
    return comments


def _compile(roots: Sequence[Path]) -> descriptor_pb2.FileDescriptorSet:
    from grpc_tools import protoc  # type: ignore[import-untyped]  # a dev/build dependency: optional at run time

    bundled = importlib.resources.files("grpc_tools") / "_proto"
    sources = sorted(str(p.relative_to(roots[0])) for p in roots[0].rglob("*.proto"))
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "set.binpb"
        args = ["protoc", *(f"-I{r}" for r in roots), f"-I{bundled}"]
        args += [f"--descriptor_set_out={out}", "--include_imports", "--include_source_info", *sources]
        if protoc.main(args) != 0:
            raise RuntimeError("protoc failed on the .proto sources")
        return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


def _clean(comment: str) -> str:
    lines = [line[1:] if line.startswith(" ") else line for line in comment.strip("\n").split("\n")]
    return "\n".join(lines).strip()


def _names(file: descriptor_pb2.FileDescriptorProto) -> dict[Path_, str]:
    names: dict[Path_, str] = {}
    prefix = file.package

    def enum(desc: descriptor_pb2.EnumDescriptorProto, scope: str, path: Path_) -> None:
        full = f"{scope}.{desc.name}"
        names[path] = full
        for i, value in enumerate(desc.value):
            names[(*path, _ENUM_VALUE, i)] = f"{full}.{value.name}"

    def message(desc: descriptor_pb2.DescriptorProto, scope: str, path: Path_) -> None:
        full = f"{scope}.{desc.name}"
        names[path] = full
        for i, field in enumerate(desc.field):
            names[(*path, _MESSAGE_FIELD, i)] = f"{full}.{field.name}"
        for i, nested in enumerate(desc.nested_type):
            message(nested, full, (*path, _MESSAGE_NESTED, i))
        for i, nested_enum in enumerate(desc.enum_type):
            enum(nested_enum, full, (*path, _MESSAGE_ENUM, i))

    for i, msg in enumerate(file.message_type):
        message(msg, prefix, (_FILE_MESSAGE, i))
    for i, top_enum in enumerate(file.enum_type):
        enum(top_enum, prefix, (_FILE_ENUM, i))
    for i, service in enumerate(file.service):
        full = f"{prefix}.{service.name}"
        names[(_FILE_SERVICE, i)] = full
        for j, method in enumerate(service.method):
            names[(_FILE_SERVICE, i, _SERVICE_METHOD, j)] = f"{full}.{method.name}"
    return names
