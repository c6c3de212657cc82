"""Entry points of the order service: gRPC servicers and event handlers; they only translate."""
