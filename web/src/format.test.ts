import { describe, expect, it } from "vitest";
import { money, statusLabel } from "./format";

describe("format", () => {
  it("shows money from units and nanos", () => {
    expect(money({ currencyCode: "EUR", units: "12", nanos: 500_000_000 })).toBe("€12.50");
    expect(money(undefined)).toBe("—");
  });
  it("shows statuses without their enum prefix", () => {
    expect(statusLabel("ORDER_STATUS_CONFIRMED")).toBe("Confirmed");
    expect(statusLabel("NOTIFICATION_STATUS_FAILED")).toBe("Failed");
  });
});
