import { describe, expect, it } from "vitest";
import { apiError } from "./errors";

const headers = (h: Record<string, string> = {}) => new Headers(h);

describe("apiError", () => {
  it("puts field violations on the fields, by proto or JSON name", () => {
    const error = apiError(
      { status: 400, headers: headers() },
      {
        code: 3,
        message: "bad request",
        details: [
          {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            fieldViolations: [
              { field: "items[0].quantity", description: "must be at most 1000" },
              { field: "expected_version", description: "must not be negative" },
            ],
          },
        ],
      },
    );
    expect(error.kind).toBe("invalid");
    expect(error.forField("items[0].quantity")).toBe("must be at most 1000");
    expect(error.forField("expectedVersion")).toBe("must not be negative");
    expect(error.forField("name")).toBeUndefined();
    expect(error.humanMessage).toMatch(/highlighted fields/);
  });

  it("says when to retry after a 429, from Retry-After or RetryInfo", () => {
    const fromHeader = apiError({ status: 429, headers: headers({ "Retry-After": "7" }) }, { code: 8, message: "slow" });
    expect(fromHeader.kind).toBe("rate-limited");
    expect(fromHeader.humanMessage).toBe("Too many requests: please retry in 7 seconds.");
    const fromDetail = apiError(
      { status: 429, headers: headers() },
      { code: 8, message: "slow", details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "1.2s" }] },
    );
    expect(fromDetail.retryAfterS).toBe(2);
  });

  it("sends 401 to sign-in and UNAVAILABLE to try again", () => {
    expect(apiError({ status: 401, headers: headers() }, { code: 16, message: "expired" }).humanMessage).toMatch(/sign in/);
    expect(apiError({ status: 503, headers: headers() }, { code: 14, message: "down" }).humanMessage).toMatch(/try again/);
    expect(apiError({ status: 502, headers: headers() }, "<html>proxy</html>").message).toMatch(/HTTP 502/);
  });

  it("keeps an ABORTED conflict's metadata (the current version)", () => {
    const error = apiError(
      { status: 409, headers: headers() },
      {
        code: 10,
        message: "stock of 'p-1' is at version 3, not 2; re-read and retry",
        details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", metadata: { current_version: "3" } }],
      },
    );
    expect(error.kind).toBe("conflict");
    expect(error.metadata.current_version).toBe("3");
  });

  it("names what stood in the way of a FAILED_PRECONDITION (stock short at checkout)", () => {
    const error = apiError(
      { status: 400, headers: headers() },
      {
        code: 9,
        message: "not enough stock for p-1",
        details: [
          {
            "@type": "type.googleapis.com/google.rpc.PreconditionFailure",
            violations: [{ type: "STOCK", subject: "products/p-1", description: "requested 3, available 1" }],
          },
        ],
      },
    );
    expect(error.humanMessage).toBe("not enough stock for p-1: p-1: requested 3, available 1.");
  });
});
