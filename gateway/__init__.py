"""HTTP/JSON gateway: transcodes REST calls to the OMS gRPC services (docs/gateway.md)."""
