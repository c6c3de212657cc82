// A small TypeScript (Node) client of the mesh, built on the code `buf generate` writes into
// gen/ts (ts-proto, for @grpc/grpc-js): it signs in with a bearer token, places an order,
// watches it to CONFIRMED, and reads the google.rpc.BadRequest detail of an invalid request.
// tests/e2e/test_external_clients.py compiles it with tsc and runs it against the real
// services; it prints one JSON document of what it saw.
import { credentials, Metadata, status as codes, type ServiceError } from "@grpc/grpc-js";

import { BadRequest } from "../../gen/ts/google/rpc/error_details";
import { Status } from "../../gen/ts/google/rpc/status";
import {
  OrderServiceClient,
  OrderStatus,
  orderStatusToJSON,
  type Order,
  PlaceOrderRequest,
} from "../../gen/ts/oms/order/v1/order";

const BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest";

function usage(): never {
  throw new Error("usage: OMS_TOKEN=... node client.js ORDER_ADDR CUSTOMER_ID PRODUCT_ID");
}

function place(client: OrderServiceClient, request: PlaceOrderRequest, metadata: Metadata): Promise<Order> {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + 30_000);
    client.placeOrder(request, metadata, { deadline }, (error, response) =>
      error ? reject(error) : resolve(response.order!),
    );
  });
}

// Follows WatchOrder (first the current state, then every change) until CONFIRMED; a final
// state other than CONFIRMED, or the stream's end, is an error.
function watchUntilConfirmed(client: OrderServiceClient, orderId: string, metadata: Metadata): Promise<string[]> {
  const seen: string[] = [];
  return new Promise((resolve, reject) => {
    const stream = client.watchOrder({ orderId }, metadata, { deadline: new Date(Date.now() + 30_000) });
    let done = false;
    stream.on("data", (reply: { order?: Order }) => {
      const current = reply.order!.status;
      seen.push(orderStatusToJSON(current));
      if (current === OrderStatus.ORDER_STATUS_PENDING) return;
      done = true;
      stream.cancel(); // leaves the stream: the server sees the client go
      current === OrderStatus.ORDER_STATUS_CONFIRMED
        ? resolve(seen)
        : reject(new Error(`order ${orderId} became ${orderStatusToJSON(current)}: ${seen}`));
    });
    stream.on("error", (error: ServiceError) => {
      if (!done) reject(new Error(`WatchOrder: ${error.message} (saw ${seen})`));
    });
    stream.on("end", () => {
      if (!done) reject(new Error(`WatchOrder ended before CONFIRMED; saw ${seen}`));
    });
  });
}

// The google.rpc.Status of a failed call travels in the `grpc-status-details-bin` trailer;
// its details are Anys, one of them the BadRequest with the field violations.
function fieldViolations(error: ServiceError): { field: string; description: string }[] {
  const [encoded] = error.metadata.get("grpc-status-details-bin");
  if (!(encoded instanceof Buffer)) return [];
  return Status.decode(encoded)
    .details.filter((detail) => detail.typeUrl === BAD_REQUEST)
    .flatMap((detail) => BadRequest.decode(detail.value).fieldViolations)
    .map(({ field, description }) => ({ field, description }));
}

async function main(): Promise<void> {
  const [address, customerId, productId] = process.argv.slice(2);
  const token = process.env.OMS_TOKEN; // `oms token --sub <customer> --role customer` mints one in development
  if (!address || !customerId || !productId || !token) usage();
  const client = new OrderServiceClient(address, credentials.createInsecure());
  const signed = new Metadata();
  signed.set("authorization", `Bearer ${token}`);
  // PlaceOrder is idempotent on the idempotency-key: a retry after a lost response gets the same order.
  const placing = signed.clone();
  placing.set("idempotency-key", `ts-${process.hrtime.bigint()}`);
  try {
    // fromPartial: fields the client leaves out (payment_method: pay later) take their defaults,
    // so a field added to the contract does not break this call.
    const order = await place(client, PlaceOrderRequest.fromPartial({ customerId, items: [{ productId, quantity: 2 }] }), placing);
    const statuses = await watchUntilConfirmed(client, order.orderId, signed);
    const rejected = await place(client, PlaceOrderRequest.fromPartial({ customerId, items: [{ productId: "", quantity: 0 }] }), signed).then(
      () => {
        throw new Error("an invalid PlaceOrder was accepted");
      },
      (error: ServiceError) => error,
    );
    const violations = fieldViolations(rejected);
    if (rejected.code !== codes.INVALID_ARGUMENT || violations.length === 0) {
      throw new Error(`expected INVALID_ARGUMENT with a BadRequest, got ${rejected.code}: ${rejected.details}`);
    }
    const total = order.total!;
    const report = {
      order_id: order.orderId,
      statuses,
      total: `${total.currencyCode} ${total.units}.${String(total.nanos).padStart(9, "0")}`,
      bad_request_code: codes[rejected.code],
      field_violations: violations,
    };
    process.stdout.write(JSON.stringify(report) + "\n");
  } finally {
    client.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`oms ts client: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
