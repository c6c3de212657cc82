"""Edges of the service: Kafka event handlers, the gRPC servicer, the process's workers."""
