/**
 * The last lines this process wrote to stderr (warnings, errors, crash reports of its tasks), kept
 * so `client.getWorkerLogs()` can show them without anyone logging in to the node. Installed once
 * per process; the lines still go to stderr (the job's output) as before.
 */
const MAX_LINES = 1000;
const MAX_LINE_CHARS = 4000;

const lines: string[] = [];
let partial = "";
let installed = false;

export function installLogBuffer(): void {
  if (installed) return;
  installed = true;
  const write = process.stderr.write.bind(process.stderr) as (...args: unknown[]) => boolean;
  process.stderr.write = ((chunk: unknown, ...rest: unknown[]) => {
    try {
      remember(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"));
    } catch {
      // Logging must never break the write it observes.
    }
    return write(chunk, ...rest);
  }) as typeof process.stderr.write;
}

/** The most recent lines, oldest first. */
export function recentLogLines(): string[] {
  return partial ? [...lines, partial] : [...lines];
}

function remember(text: string): void {
  const parts = (partial + text).split("\n");
  partial = (parts.pop() ?? "").slice(0, MAX_LINE_CHARS);
  for (const line of parts) lines.push(line.slice(0, MAX_LINE_CHARS));
  if (lines.length > MAX_LINES) lines.splice(0, lines.length - MAX_LINES);
}
