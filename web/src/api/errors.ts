// google.rpc.Status from the API, turned into what a person can act on: which field is wrong,
// sign in again, retry in N seconds, try again later.
import type { components } from "./schema";

export type Status = components["schemas"]["google.rpc.Status"];

export interface FieldViolation {
  field: string;
  description: string;
}

export type ErrorKind =
  | "invalid"
  | "unauthenticated"
  | "forbidden"
  | "not-found"
  | "conflict"
  | "rate-limited"
  | "unavailable"
  | "failed"
  | "network";

// gRPC status codes (google.rpc.Code).
const CODE = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNAVAILABLE: 14,
  DEADLINE_EXCEEDED: 4,
  UNAUTHENTICATED: 16,
} as const;

export class ApiError extends Error {
  readonly kind: ErrorKind;
  readonly httpStatus: number;
  readonly code: number;
  readonly fieldViolations: FieldViolation[];
  readonly retryAfterS: number | undefined;
  readonly metadata: Record<string, string>;
  /** google.rpc.PreconditionFailure: what about the system's state stood in the way. */
  readonly preconditions: string[];

  constructor(init: {
    kind: ErrorKind;
    httpStatus: number;
    code: number;
    message: string;
    fieldViolations?: FieldViolation[];
    retryAfterS?: number | undefined;
    metadata?: Record<string, string>;
    preconditions?: string[];
  }) {
    super(init.message);
    this.kind = init.kind;
    this.httpStatus = init.httpStatus;
    this.code = init.code;
    this.fieldViolations = init.fieldViolations ?? [];
    this.retryAfterS = init.retryAfterS;
    this.metadata = init.metadata ?? {};
    this.preconditions = init.preconditions ?? [];
  }

  /** The violation of ``field`` (a form field's JSON or proto name), if the API named it. */
  forField(field: string): string | undefined {
    const wanted = normalise(field);
    const hit = this.fieldViolations.find((v) => {
      const name = normalise(v.field);
      return name === wanted || name.endsWith("." + wanted);
    });
    return hit?.description;
  }

  /** A sentence for a person: what happened and what to do. */
  get humanMessage(): string {
    switch (this.kind) {
      case "unauthenticated":
        return "Please sign in (again) to continue.";
      case "forbidden":
        return `You may not do this: ${this.message}`;
      case "rate-limited":
        return this.retryAfterS !== undefined
          ? `Too many requests: please retry in ${this.retryAfterS} second${this.retryAfterS === 1 ? "" : "s"}.`
          : "Too many requests: please retry in a moment.";
      case "unavailable":
        return "The shop is temporarily unavailable. Please try again.";
      case "network":
        return "Cannot reach the shop. Check your connection and try again.";
      case "invalid":
        return this.fieldViolations.length
          ? `Please correct the highlighted field${this.fieldViolations.length === 1 ? "" : "s"}.`
          : this.message;
      default:
        return this.preconditions.length ? `${this.message}: ${this.preconditions.join("; ")}.` : this.message;
    }
  }
}

function normalise(field: string): string {
  // proto names (expected_version, items[0].quantity) and JSON names (expectedVersion) alike.
  return field.replace(/\[\d+\]/g, "").replace(/_/g, "").toLowerCase();
}

function kindOf(code: number, httpStatus: number): ErrorKind {
  switch (code) {
    case CODE.INVALID_ARGUMENT:
    case CODE.OUT_OF_RANGE:
      return "invalid";
    case CODE.UNAUTHENTICATED:
      return "unauthenticated";
    case CODE.PERMISSION_DENIED:
      return "forbidden";
    case CODE.NOT_FOUND:
      return "not-found";
    case CODE.ABORTED:
    case CODE.ALREADY_EXISTS:
      return "conflict";
    case CODE.RESOURCE_EXHAUSTED:
      return "rate-limited";
    case CODE.UNAVAILABLE:
    case CODE.DEADLINE_EXCEEDED:
      return "unavailable";
  }
  if (httpStatus === 401) return "unauthenticated";
  if (httpStatus === 429) return "rate-limited";
  if (httpStatus === 503 || httpStatus === 504) return "unavailable";
  return "failed";
}

interface Detail {
  "@type"?: string;
  fieldViolations?: { field?: string; description?: string }[];
  violations?: { type?: string; subject?: string; description?: string }[];
  retryDelay?: string;
  metadata?: Record<string, string>;
}

/** The error of one API answer (``body`` is its parsed JSON, if any). */
export function apiError(response: Pick<Response, "status" | "headers">, body: unknown): ApiError {
  const status = (typeof body === "object" && body !== null ? body : {}) as Partial<Status>;
  const code = typeof status.code === "number" ? status.code : 0;
  const details = (Array.isArray(status.details) ? status.details : []) as Detail[];
  const fieldViolations: FieldViolation[] = [];
  const metadata: Record<string, string> = {};
  const preconditions: string[] = [];
  let retryAfterS = parseRetryAfter(response.headers.get("Retry-After"));
  for (const detail of details) {
    const type = detail["@type"] ?? "";
    if (type.endsWith("google.rpc.BadRequest")) {
      for (const v of detail.fieldViolations ?? []) {
        fieldViolations.push({ field: v.field ?? "", description: v.description ?? "" });
      }
    } else if (type.endsWith("google.rpc.RetryInfo") && retryAfterS === undefined && detail.retryDelay) {
      retryAfterS = Math.ceil(parseFloat(detail.retryDelay));
    } else if (type.endsWith("google.rpc.PreconditionFailure")) {
      for (const v of detail.violations ?? []) {
        const subject = (v.subject ?? "").replace(/^products\//, "");
        preconditions.push(subject ? `${subject}: ${v.description ?? ""}` : (v.description ?? ""));
      }
    } else if (type.endsWith("google.rpc.ErrorInfo")) {
      Object.assign(metadata, detail.metadata ?? {});
    }
  }
  const message =
    typeof status.message === "string" && status.message
      ? status.message
      : `The request failed (HTTP ${response.status}).`;
  return new ApiError({
    kind: kindOf(code, response.status),
    httpStatus: response.status,
    code,
    message,
    fieldViolations,
    retryAfterS,
    metadata,
    preconditions,
  });
}

export function networkError(cause: unknown): ApiError {
  return new ApiError({
    kind: "network",
    httpStatus: 0,
    code: CODE.UNAVAILABLE,
    message: cause instanceof Error ? cause.message : String(cause),
  });
}

function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

export function asApiError(error: unknown): ApiError {
  return error instanceof ApiError ? error : networkError(error);
}
