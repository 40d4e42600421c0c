/**
 * `await progress(futures)`: how far a computation is, per task group (the function name part of
 * the keys). Live bars on a terminal; plain lines in logs, pipes and CI, where bars would be noise.
 * It waits until every future is done and never throws a task's error (it counts them).
 */
import type { SingleBar } from "cli-progress";
import { badOption } from "./errors.js";
import { hostOf, isFuture, type Future } from "./future.js";
import { futuresOf } from "./structure.js";

export interface ProgressOptions {
  /** Where to draw. @default process.stderr */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** "bar" (live bars), "lines" (plain lines), or "auto": bars on a terminal outside CI, else lines. @default "auto" */
  mode?: "auto" | "bar" | "lines";
  /** In "lines" mode, print a summary line at most this often, in milliseconds. @default 5000 */
  interval?: number;
}

export interface GroupProgress {
  readonly total: number;
  readonly finished: number;
  readonly errors: number;
  readonly cancelled: number;
}

/** Counts per task group once everything is done. */
export type ProgressSummary = Record<string, GroupProgress>;

export async function progress(futures: Future | Iterable<Future> | object, options: ProgressOptions = {}): Promise<ProgressSummary> {
  const list = collect(futures);
  const stream = options.stream ?? process.stderr;
  const mode = options.mode ?? "auto";
  if (!["auto", "bar", "lines"].includes(mode)) throw badOption("progress", `mode must be "auto", "bar" or "lines", got ${JSON.stringify(mode)}`);
  const bars = mode === "bar" || (mode === "auto" && stream.isTTY === true && !isCI());
  const groups = new Map<string, { total: number; finished: number; errors: number; cancelled: number }>();
  for (const future of list) {
    const group = groupOf(future.key);
    const g = groups.get(group) ?? { total: 0, finished: 0, errors: 0, cancelled: 0 };
    g.total++;
    groups.set(group, g);
  }
  const view = bars ? await barView(stream, groups) : lineView(stream, groups, options.interval ?? 5000);
  const count = (future: Future) => {
    const g = groups.get(groupOf(future.key)) as { finished: number; errors: number; cancelled: number };
    if (future.status === "finished") g.finished++;
    else if (future.status === "error") g.errors++;
    else g.cancelled++;
    view.update(groupOf(future.key));
  };
  await Promise.all(
    list.map((future) =>
      hostOf(future)
        .settled(future.key)
        .then(
          () => count(future),
          () => count(future),
        ),
    ),
  );
  view.stop();
  return Object.fromEntries([...groups].map(([name, g]) => [name, { ...g }]));
}

// --- internal ---

interface View {
  update(group: string): void;
  stop(): void;
}

async function barView(stream: NodeJS.WritableStream, groups: Map<string, { total: number; finished: number; errors: number; cancelled: number }>): Promise<View> {
  const { MultiBar, Presets } = await import("cli-progress");
  const width = Math.max(...[...groups.keys()].map((g) => g.length), 4);
  const multibar = new MultiBar(
    { stream, format: " {group} |{bar}| {value}/{total} {note}", hideCursor: true, clearOnComplete: false, autopadding: true, noTTYOutput: false },
    Presets.shades_classic,
  );
  const bars = new Map<string, SingleBar>();
  for (const [name, g] of groups) bars.set(name, multibar.create(g.total, 0, { group: name.padEnd(width), note: "" }));
  return {
    update(group) {
      const g = groups.get(group) as { finished: number; errors: number; cancelled: number };
      const notes = [g.errors ? `${g.errors} failed` : "", g.cancelled ? `${g.cancelled} cancelled` : ""].filter(Boolean).join(", ");
      bars.get(group)?.update(g.finished + g.errors + g.cancelled, { note: notes });
    },
    stop: () => multibar.stop(),
  };
}

function lineView(stream: NodeJS.WritableStream, groups: Map<string, { total: number; finished: number; errors: number; cancelled: number }>, intervalMs: number): View {
  const describe = (name: string) => {
    const g = groups.get(name) as { total: number; finished: number; errors: number; cancelled: number };
    const done = g.finished + g.errors + g.cancelled;
    const notes = [g.errors ? `${g.errors} failed` : "", g.cancelled ? `${g.cancelled} cancelled` : ""].filter(Boolean).join(", ");
    return `${name} ${done}/${g.total}${notes ? ` (${notes})` : ""}`;
  };
  const isDone = (name: string) => {
    const g = groups.get(name) as { total: number; finished: number; errors: number; cancelled: number };
    return g.finished + g.errors + g.cancelled === g.total;
  };
  // Something changed since the last summary line.
  let changed = false;
  const timer = setInterval(() => {
    if (!changed) return;
    changed = false;
    stream.write(`[skein] progress: ${[...groups.keys()].map(describe).join(", ")}\n`);
  }, Math.max(100, intervalMs));
  timer.unref();
  return {
    update(group) {
      if (isDone(group)) stream.write(`[skein] ${describe(group)} done\n`);
      else changed = true;
    },
    stop: () => clearInterval(timer),
  };
}

function collect(futures: Future | Iterable<Future> | object): Future[] {
  if (isFuture(futures)) return [futures];
  if (futures !== null && typeof futures === "object" && Symbol.iterator in futures && !Array.isArray(futures)) {
    return [...(futures as Iterable<unknown>)].filter(isFuture);
  }
  // Arrays and nested structures: every future inside, once each.
  return [...new Set(futuresOf(futures))];
}

/** "multiply-3f9c…" → "multiply" (Dask's key_split, simplified for Skein's keys). */
function groupOf(key: string): string {
  const dash = key.lastIndexOf("-");
  return dash > 0 ? key.slice(0, dash) : key;
}

/** Bars are noise in CI logs, even when the runner pretends to be a terminal. */
export function isCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== "" && ci !== "false" && ci !== "0";
}
