"""Entry points: the gRPC servicer and the order-event handlers; they only translate."""
