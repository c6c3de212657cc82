"""Running a gRPC service: server bootstrap, entry point, interceptors, errors, request checks."""
