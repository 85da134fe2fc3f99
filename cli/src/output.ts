/**
 * What the CLI prints. stdout carries results only (tables, --json, the gateway's key), so it
 * can be piped; notes and progress go to stderr.
 */

/** One line on stderr (a note, a progress step); written whether or not stderr is a TTY. */
export function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * A status line on stderr: on a TTY it rewrites itself in place; otherwise (CI logs) every
 * update is a plain line, and callers update every 5 s instead of 4 times a second.
 */
export class StatusLine {
  readonly tty = process.stderr.isTTY === true;
  readonly intervalMs = this.tty ? 250 : 5000;

  update(line: string): void {
    if (this.tty) process.stderr.write(`\r\x1b[2K${line}`);
    else progress(line);
  }

  /** Ends a live line: erased, or kept above what is printed next. */
  end(keep = false): void {
    if (this.tty) process.stderr.write(keep ? "\n" : "\r\x1b[2K");
  }
}

export interface TableOptions {
  /** Spaces between columns. */
  gap?: number;
  /** Columns padded on the left (numbers); the others on the right. */
  rightAligned?: (column: number) => boolean;
}

/** Rows (the first is the header) in columns as wide as their widest cell; no trailing spaces. */
export function formatTable(
  rows: string[][],
  { gap = 2, rightAligned = () => false }: TableOptions = {},
): string {
  const widths: number[] = [];
  for (const r of rows) for (const [i, c] of r.entries()) widths[i] = Math.max(widths[i] ?? 0, c.length);
  return rows
    .map((r) =>
      r
        .map((c, i) => (rightAligned(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
        .join(" ".repeat(gap))
        .trimEnd(),
    )
    .join("\n");
}
