"""Running a gRPC service: server bootstrap, entry point, interceptors, errors, request checks,
and the standard services every port serves (health with List, reflection v1 and v1alpha)."""
