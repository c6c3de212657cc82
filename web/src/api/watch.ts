// Following an order live: GET /orders/{id}:watch as Server-Sent Events, read with fetch (an
// EventSource cannot send the Authorization header). A dropped connection — the network, a
// gateway restart, the stream's lifetime ending — reconnects with backoff; the first message of
// every connection is the order as it is now, so nothing is missed in between.
import { currentSession } from "./auth";
import { apiError, type ApiError } from "./errors";
import type { Order } from "./client";

export type WatchState = "connecting" | "live" | "reconnecting" | "ended";

export interface WatchHandlers {
  onOrder(order: Order): void;
  onState(state: WatchState): void;
  /** An error that reconnecting cannot fix (not found, signed out): watching stops. */
  onError(error: ApiError): void;
}

export interface SseEvent {
  event: string;
  data: string;
}

/** Splits an event stream's text into complete events; returns them and the unfinished rest. */
export function parseSse(buffer: string): { events: SseEvent[]; rest: string } {
  const events: SseEvent[] = [];
  const blocks = buffer.replace(/\r\n?/g, "\n").split("\n\n");
  const rest = blocks.pop() ?? "";
  for (const block of blocks) {
    let event = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (data.length) events.push({ event, data: data.join("\n") });
  }
  return { events, rest };
}

const FINAL = new Set(["ORDER_STATUS_REJECTED", "ORDER_STATUS_DELIVERED", "ORDER_STATUS_CANCELLED"]);
const RETRY_MAX_MS = 10_000;

/** Watches ``orderId`` until the order is final or the returned function is called. */
export function watchOrder(orderId: string, handlers: WatchHandlers): () => void {
  let stopped = false;
  let controller: AbortController | undefined;
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const retryLater = (afterMs?: number) => {
    if (stopped) return;
    handlers.onState("reconnecting");
    const delay = afterMs ?? Math.min(RETRY_MAX_MS, 500 * 2 ** attempt);
    attempt += 1;
    timer = setTimeout(connect, delay);
  };

  const connect = async () => {
    if (stopped) return;
    controller = new AbortController();
    handlers.onState(attempt === 0 ? "connecting" : "reconnecting");
    const headers: Record<string, string> = { Accept: "text/event-stream" };
    const session = currentSession();
    if (session) headers.Authorization = `Bearer ${session.token}`;
    let response: Response;
    try {
      response = await fetch(`/orders/${encodeURIComponent(orderId)}:watch`, {
        headers,
        signal: controller.signal,
        cache: "no-store",
      });
    } catch {
      retryLater();
      return;
    }
    if (!response.ok || !response.body) {
      const error = apiError(response, await response.json().catch(() => null));
      if (error.kind === "unavailable" || error.kind === "rate-limited" || error.kind === "network") {
        retryLater(error.retryAfterS !== undefined ? error.retryAfterS * 1000 : undefined);
      } else {
        stopped = true;
        handlers.onError(error);
        handlers.onState("ended");
      }
      return;
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        const parsed = parseSse(buffer);
        buffer = parsed.rest;
        for (const event of parsed.events) {
          if (event.event === "error") {
            const status = JSON.parse(event.data) as unknown;
            const error = apiError(new Response(null, { status: 500 }), status);
            if (error.kind === "unauthenticated" || error.kind === "not-found" || error.kind === "forbidden") {
              stopped = true;
              handlers.onError(error);
              handlers.onState("ended");
              return;
            }
            continue; // the stream ends next; reconnect below
          }
          const message = JSON.parse(event.data) as { order?: Order };
          if (!message.order) continue;
          attempt = 0;
          handlers.onState("live");
          handlers.onOrder(message.order);
          if (message.order.status && FINAL.has(message.order.status)) {
            stopped = true;
            controller.abort();
            handlers.onState("ended");
            return;
          }
        }
      }
    } catch {
      // the connection broke (or we aborted it)
    }
    retryLater();
  };

  void connect();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    controller?.abort();
  };
}
