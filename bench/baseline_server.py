"""The throughput baseline: the same OrderService on grpc.aio, with an empty PlaceOrder.

No interceptors, no database, no work: what a Python grpc.aio server can answer at most on
this machine. Run as its own process (``python -m bench.baseline_server``); it binds a free
port on 127.0.0.1, prints ``PORT <n>`` on stdout and serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

import grpc

from oms.order.v1 import order_pb2, order_pb2_grpc


class EmptyOrderService(order_pb2_grpc.OrderServiceServicer):
    async def PlaceOrder(
        self, request: order_pb2.PlaceOrderRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.PlaceOrderResponse:
        return order_pb2.PlaceOrderResponse()


async def serve() -> None:
    # The same server options as mesh.serving.server, so only the handler (and its interceptors) differ.
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 8 * 1024 * 1024)])
    order_pb2_grpc.add_OrderServiceServicer_to_server(EmptyOrderService(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sys.stdout.write(f"PORT {port}\n")
    sys.stdout.flush()
    await stop.wait()
    await server.stop(1)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
