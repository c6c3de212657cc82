import { describe, expect, it } from "vitest";
import { parseSse } from "./watch";

describe("parseSse", () => {
  it("splits complete events and keeps the unfinished rest", () => {
    const { events, rest } = parseSse('data: {"a":1}\n\n: keepalive\n\nevent: error\ndata: {"code":16}\n\ndata: {"b"');
    expect(events).toEqual([
      { event: "message", data: '{"a":1}' },
      { event: "error", data: '{"code":16}' },
    ]);
    expect(rest).toBe('data: {"b"');
  });

  it("reads CRLF framing and multi-line data", () => {
    expect(parseSse("data: x\r\ndata: y\r\n\r\n").events).toEqual([{ event: "message", data: "x\ny" }]);
  });
});
