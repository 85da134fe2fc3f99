import type { DeviceRow } from "./device-row.ts";

/**
 * One CSV cell. Device-controlled text may start with a character a spreadsheet reads as a
 * formula (`=cmd|' /C calc'!A0`): such a cell gets a leading apostrophe, so it opens as text
 * (the OWASP "CSV injection" advice). Quotes are doubled; every cell is quoted. Pure.
 */
export function csvCell(value: string | boolean | undefined): string {
  let text = value === undefined ? "" : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return `"${text.replaceAll('"', '""')}"`;
}

const CSV_COLUMNS = [
  "name",
  "phase",
  "deviceUUID",
  "deviceId",
  "model",
  "serialNumber",
  "firmwareVersion",
  "reason",
  "decidedBy",
  "createdAt",
] as const satisfies ReadonlyArray<keyof DeviceRow>;

/** The rows as CSV (RFC 4180 line ends), header first. */
export function rowsToCsv(rows: readonly DeviceRow[]): string {
  const lines = [CSV_COLUMNS.map((c) => csvCell(c)).join(",")];
  for (const r of rows) lines.push(CSV_COLUMNS.map((c) => csvCell(r[c])).join(","));
  return `${lines.join("\r\n")}\r\n`;
}
