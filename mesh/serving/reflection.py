"""Server reflection under both names clients ask for: ``grpc.reflection.v1`` and ``v1alpha``.

Current tools (grpcurl, Postman, grpc-java/-go clients) ask for ``grpc.reflection.v1`` first;
older ones only know ``v1alpha``. grpcio-reflection ships only v1alpha (proto and servicer).
The v1 proto is the v1alpha one under a new package (the same messages, fields and numbers,
so the same bytes on the wire), so v1 is served by the same servicer, and its descriptor,
derived from v1alpha's, is put into the default pool so that reflection can describe v1 too.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from google.protobuf import descriptor, descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha._async import ReflectionServicer

V1ALPHA_SERVICE_NAME: str = reflection.SERVICE_NAME
V1_PACKAGE = "grpc.reflection.v1"
V1_FILE = "grpc/reflection/v1/reflection.proto"
V1_SERVICE_NAME = f"{V1_PACKAGE}.ServerReflection"
_V1ALPHA_PACKAGE = reflection_pb2.DESCRIPTOR.package


def enable_reflection(server: grpc.aio.Server, service_names: Sequence[str]) -> None:
    """Serves reflection v1 and v1alpha on ``server``, listing ``service_names`` and both reflections."""
    v1_file_descriptor()
    servicer = ReflectionServicer([*service_names, V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME])
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    v1_info = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(V1_SERVICE_NAME, {"ServerReflectionInfo": v1_info}),)
    )


def v1_file_descriptor() -> descriptor.FileDescriptor:
    """``grpc/reflection/v1/reflection.proto`` in the default pool (added on first use)."""
    pool = descriptor_pool.Default()
    try:
        return pool.FindFileByName(V1_FILE)
    except KeyError:
        pool.Add(_v1_file_proto())
        return pool.FindFileByName(V1_FILE)


def _v1_file_proto() -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(file)
    file.name, file.package = V1_FILE, V1_PACKAGE
    # The options upstream's v1 file has; v1alpha's say "deprecated" and name v1alpha packages.
    file.options.Clear()
    file.options.go_package = "google.golang.org/grpc/reflection/grpc_reflection_v1"
    file.options.java_package = "io.grpc.reflection.v1"
    file.options.java_outer_classname = "ServerReflectionProto"
    file.options.java_multiple_files = True
    messages = list(file.message_type)
    while messages:
        message = messages.pop()
        messages.extend(message.nested_type)
        for field in message.field:
            if field.type_name:  # assigning even "" would mark a scalar field as typed
                field.type_name = _in_v1(field.type_name)
    for service in file.service:
        for method in service.method:
            method.input_type, method.output_type = _in_v1(method.input_type), _in_v1(method.output_type)
    return file


def _in_v1(type_name: str) -> str:
    prefix = f".{_V1ALPHA_PACKAGE}."
    return f".{V1_PACKAGE}.{type_name.removeprefix(prefix)}" if type_name.startswith(prefix) else type_name
