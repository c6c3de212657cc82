// Notifications (retry a failed one) and, per service, dead letters (replay) and parked outbox
// events (republish): the operations RPCs the gateway exposes under /admin/<service>/.
import { useState } from "preact/hooks";
import { api, call, must, type Notification } from "../api/client";
import type { ApiError } from "../api/errors";
import { statusLabel, when } from "../format";
import { ErrorNotice, Pager, usePages } from "../ui/common";

type NotificationStatus = NonNullable<Notification["status"]>;

export function Notifications() {
  const [status, setStatus] = useState<NotificationStatus | "">("");
  const [error, setError] = useState<{ id: string; error: ApiError } | null>(null);
  const pages = usePages(
    async (pageToken) => {
      const query = { page_size: 20, page_token: pageToken, ...(status ? { status } : {}) };
      const data = await must(api.GET("/notifications", { params: { query } }));
      return { items: data.notifications ?? [], nextPageToken: data.nextPageToken ?? "" };
    },
    [status],
  );
  const retry = async (id: string) => {
    setError(null);
    const result = await call(
      api.POST("/notifications/{notification_id}:retry", { params: { path: { notification_id: id } }, body: {} }),
    );
    if (result.error) setError({ id, error: result.error });
    pages.reload();
  };
  return (
    <section aria-labelledby="notifications-title">
      <h1 id="notifications-title">Notifications</h1>
      <label>
        Status
        <select name="status" value={status} onChange={(e) => setStatus(e.currentTarget.value as NotificationStatus | "")}>
          <option value="">Any</option>
          <option value="NOTIFICATION_STATUS_PENDING">Pending</option>
          <option value="NOTIFICATION_STATUS_SENT">Sent</option>
          <option value="NOTIFICATION_STATUS_FAILED">Failed</option>
        </select>
      </label>
      <ErrorNotice error={pages.error} onRetry={pages.reload} />
      <table>
        <caption class="sr-only">Notifications</caption>
        <thead>
          <tr>
            <th scope="col">Subject</th>
            <th scope="col">Order</th>
            <th scope="col">To</th>
            <th scope="col">Status</th>
            <th scope="col">Attempts</th>
            <th scope="col">Last error</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {pages.items.map((n) => (
            <tr key={n.notificationId}>
              <td>{n.subject}</td>
              <td>{n.orderId}</td>
              <td>{n.recipient}</td>
              <td>{statusLabel(n.status)}</td>
              <td>{n.attempts}</td>
              <td>{n.lastError}</td>
              <td>
                {n.status === "NOTIFICATION_STATUS_FAILED" && (
                  <button type="button" onClick={() => retry(n.notificationId ?? "")}>
                    Retry
                  </button>
                )}
                {error && error.id === n.notificationId && <ErrorNotice error={error.error} />}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {!pages.loading && !pages.items.length && <p>No notifications.</p>}
      <Pager pages={pages} label="Notification" />
    </section>
  );
}

const SERVICES = ["order", "inventory", "notify"] as const;
type Service = (typeof SERVICES)[number];

async function listDeadLetters(service: Service, pageToken: string) {
  const params = { params: { query: { page_size: 20, page_token: pageToken } } };
  const data =
    service === "order"
      ? await must(api.GET("/admin/order/dead-letters", params))
      : service === "inventory"
        ? await must(api.GET("/admin/inventory/dead-letters", params))
        : await must(api.GET("/admin/notify/dead-letters", params));
  return { items: data.deadLetters ?? [], nextPageToken: data.nextPageToken ?? "" };
}

async function listParked(service: Service, pageToken: string) {
  const params = { params: { query: { page_size: 20, page_token: pageToken } } };
  const data =
    service === "order"
      ? await must(api.GET("/admin/order/parked-events", params))
      : service === "inventory"
        ? await must(api.GET("/admin/inventory/parked-events", params))
        : await must(api.GET("/admin/notify/parked-events", params));
  return { items: data.parkedEvents ?? [], nextPageToken: data.nextPageToken ?? "" };
}

type Ref = { topic?: string; partition?: number; offset?: string };

function replay(service: Service, refs: Ref[]) {
  const body = { deadLetters: refs };
  return call(
    service === "order"
      ? api.POST("/admin/order/dead-letters:replay", { body })
      : service === "inventory"
        ? api.POST("/admin/inventory/dead-letters:replay", { body })
        : api.POST("/admin/notify/dead-letters:replay", { body }),
  );
}

function republish(service: Service, outboxIds: string[]) {
  const body = { outboxIds };
  return call(
    service === "order"
      ? api.POST("/admin/order/parked-events:republish", { body })
      : service === "inventory"
        ? api.POST("/admin/inventory/parked-events:republish", { body })
        : api.POST("/admin/notify/parked-events:republish", { body }),
  );
}

export function DeadLetters() {
  const [service, setService] = useState<Service>("order");
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState("");
  const letters = usePages((token) => listDeadLetters(service, token), [service]);
  const parked = usePages((token) => listParked(service, token), [service]);
  const doReplay = async (ref: Ref) => {
    setError(null);
    setDone("");
    const result = await replay(service, [ref]);
    if (result.error) setError(result.error);
    else {
      const r = result.data.results?.[0];
      setDone(r?.replayed ? `Replayed to ${r.originalTopic}.` : `Not replayed: ${r?.error ?? "unknown reason"}`);
    }
    letters.reload();
  };
  const doRepublish = async (id: string) => {
    setError(null);
    setDone("");
    const result = await republish(service, [id]);
    if (result.error) setError(result.error);
    else setDone(`Republished ${result.data.outboxIds?.length ?? 0} event(s).`);
    parked.reload();
  };
  return (
    <section aria-labelledby="dlq-title">
      <h1 id="dlq-title">Dead letters and parked events</h1>
      <label>
        Service
        <select name="service" value={service} onChange={(e) => setService(e.currentTarget.value as Service)}>
          {SERVICES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <ErrorNotice error={error} />
      <p aria-live="polite" class="ok">
        {done}
      </p>
      <h2>Dead letters</h2>
      <ErrorNotice error={letters.error} onRetry={letters.reload} />
      <table>
        <caption class="sr-only">Dead letters</caption>
        <thead>
          <tr>
            <th scope="col">Event</th>
            <th scope="col">From</th>
            <th scope="col">Error</th>
            <th scope="col">Attempts</th>
            <th scope="col">When</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {letters.items.map((d) => (
            <tr key={`${d.ref?.topic}/${d.ref?.partition}/${d.ref?.offset}`}>
              <td>{d.eventType || d.eventId}</td>
              <td>
                {d.originalTopic}[{d.originalPartition}]@{d.originalOffset}
              </td>
              <td>{d.error || d.decodeError}</td>
              <td>{d.attempts}</td>
              <td>{when(d.deadLetteredAt)}</td>
              <td>
                <button type="button" onClick={() => d.ref && doReplay(d.ref)}>
                  Replay
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {!letters.loading && !letters.items.length && <p>No dead letters.</p>}
      <Pager pages={letters} label="Dead letter" />
      <h2>Parked events</h2>
      <ErrorNotice error={parked.error} onRetry={parked.reload} />
      <table>
        <caption class="sr-only">Parked events</caption>
        <thead>
          <tr>
            <th scope="col">Event</th>
            <th scope="col">Topic</th>
            <th scope="col">Error</th>
            <th scope="col">Parked</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {parked.items.map((p) => (
            <tr key={p.outboxId}>
              <td>{p.eventType || p.eventId}</td>
              <td>{p.topic}</td>
              <td>{p.error}</td>
              <td>{when(p.parkedAt)}</td>
              <td>
                <button type="button" onClick={() => doRepublish(p.outboxId ?? "")}>
                  Republish
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {!parked.loading && !parked.items.length && <p>No parked events.</p>}
      <Pager pages={parked} label="Parked event" />
    </section>
  );
}
