import { describe, expect, it } from "vitest";
import { clockFace, secondsLeft } from "./countdown.ts";
import { csvCell, rowsToCsv } from "./csv.ts";
import { describeApprovedBy } from "./approval.ts";
import { type DeviceRow, awaitsAdmin, compareRows, filterRows, rowOf } from "./device-row.ts";

const row = (over: Partial<DeviceRow>): DeviceRow => ({ name: "dev-a", phase: "Approved", deactivate: false, ...over });

describe("CSV export guards device-controlled text", () => {
  it("prefixes a formula with an apostrophe and quotes every cell", () => {
    expect(csvCell("=cmd|' /C calc'!A0")).toBe(`"'=cmd|' /C calc'!A0"`);
    for (const lead of ["+", "-", "@", "\t", "\r"]) expect(csvCell(`${lead}1`).startsWith(`"'`)).toBe(true);
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell(undefined)).toBe('""');
  });

  it("writes a header and one line per row, CRLF", () => {
    const csv = rowsToCsv([row({ model: "=1+1", serialNumber: "<script>alert(1)</script>" })]);
    const lines = csv.split("\r\n");
    expect(lines[0]?.startsWith('"name","phase"')).toBe(true);
    expect(lines[1]).toContain(`"'=1+1"`);
    expect(lines[1]).toContain('"<script>alert(1)</script>"');
    expect(lines).toHaveLength(3);
  });
});

describe("device rows", () => {
  it("reads an unknown or missing phase as Pending", () => {
    expect(rowOf({ metadata: { name: "x" }, spec: {}, status: { phase: "Bogus" } }).phase).toBe("Pending");
    expect(rowOf({ metadata: { name: "x" }, spec: {} }).phase).toBe("Pending");
  });

  it("filters by phase, model and case-insensitive text", () => {
    const rows = [
      row({ name: "dev-1", model: "th-01", serialNumber: "SN-AAA" }),
      row({ name: "dev-2", phase: "Rejected", model: "th-02", reason: "PairingDisabled" }),
      row({ name: "dev-3", model: "th-01", deviceUUID: "0e823cc8-aaaa" }),
    ];
    expect(filterRows(rows, { phase: "Rejected" }).map((r) => r.name)).toEqual(["dev-2"]);
    expect(filterRows(rows, { model: "th-01" }).map((r) => r.name)).toEqual(["dev-1", "dev-3"]);
    expect(filterRows(rows, { text: "sn-aaa" }).map((r) => r.name)).toEqual(["dev-1"]);
    expect(filterRows(rows, { text: "0E823" }).map((r) => r.name)).toEqual(["dev-3"]);
    expect(filterRows(rows, { text: "pairing", phase: "Approved" })).toEqual([]);
    expect(filterRows(rows, { text: "  " })).toHaveLength(3);
  });

  it("sorts newest first, then by name", () => {
    const rows = [row({ name: "b", createdAt: "2026-01-01T00:00:00Z" }), row({ name: "a", createdAt: "2026-01-01T00:00:00Z" }), row({ name: "c", createdAt: "2026-01-02T00:00:00Z" })];
    expect(rows.sort(compareRows).map((r) => r.name)).toEqual(["c", "a", "b"]);
  });
});

describe("countdown", () => {
  it("counts whole seconds down to zero and shows a clock face", () => {
    expect(secondsLeft(10_999, 0)).toBe(10);
    expect(secondsLeft(0, 5_000)).toBe(0);
    expect(clockFace(599)).toBe("9:59");
    expect(clockFace(7)).toBe("0:07");
    expect(clockFace(3600)).toBe("1:00:00");
  });
});

describe("approvedBy, as the detail view says it", () => {
  it("names the window and its settings, the allowance, or the admin's field manager", () => {
    expect(
      describeApprovedBy({ kind: "PairingWindow", windowId: "w-1", maxDevices: 2, selector: 'model == "<b>"', expiresAt: "2026-01-01T00:00:00Z" }),
    ).toBe('pairing window w-1 (budget 2; selector model == "<b>"; until 2026-01-01T00:00:00Z)');
    expect(describeApprovedBy({ kind: "PairingWindow" })).toBe("pairing window (no id)");
    expect(describeApprovedBy({ kind: "Allowlist", allowance: "thermo-42" })).toBe("allowlist: DeviceAllowance thermo-42");
    expect(describeApprovedBy({ kind: "Admin", admin: "devreg-dashboard" })).toBe("admin approval by field manager devreg-dashboard");
    expect(describeApprovedBy(undefined)).toBeUndefined();
  });

  it("offers approve/deny only for a registration awaiting an admin, with no decision requested", () => {
    expect(awaitsAdmin(row({ phase: "Pending", reason: "AwaitingApproval" }))).toBe(true);
    expect(awaitsAdmin(row({ phase: "Pending", reason: "AwaitingApproval", approval: "Approve" }))).toBe(false);
    expect(awaitsAdmin(row({ phase: "Pending" }))).toBe(false);
    expect(awaitsAdmin(row({ phase: "Approved", reason: "ApprovedByAdmin" }))).toBe(false);
  });
});
