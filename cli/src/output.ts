/** Progress goes to stderr: live on a TTY, plain lines otherwise (CI). */
export function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
