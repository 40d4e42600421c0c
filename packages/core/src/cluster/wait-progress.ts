/**
 * What `cluster.waitForWorkers(n, { progress: true })` shows while it waits: how many workers are
 * connected and what the jobs are doing — queued jobs with the batch system's reason (Slurm's
 * `Resources`/`Priority`, Torque's comment), running jobs whose workers have not connected yet.
 * A live bar on a terminal; a plain line whenever the picture changes in logs, pipes and CI.
 */
import type { SingleBar } from "cli-progress";
import { isCI, type ProgressOptions } from "../progress.js";
import type { JobState } from "./backend.js";

/** Where and how to show it: as `progress(futures)` (its `interval` defaults to 2 s here). */
export type WaitProgressOptions = ProgressOptions;

/** The part of a job the progress line needs (`Cluster.jobs` gives these). */
export interface WaitingJob {
  readonly id: string;
  readonly state: JobState;
  readonly workers: readonly string[];
}

export interface WaitSnapshot {
  readonly wanted: number;
  readonly connected: number;
  readonly jobs: readonly WaitingJob[];
}

/** How many ids a reason lists before "…": enough to find the jobs, short enough for one line. */
const IDS_SHOWN = 3;

/**
 * "2 of 8 workers connected · jobs: 1 with workers, 2 started on vortex, workers not connected yet,
 * 1 queued (Priority: 10)"
 */
export function describeWait({ wanted, connected, jobs }: WaitSnapshot): string {
  const head = `${connected} of ${wanted} worker${wanted === 1 ? "" : "s"} connected`;
  return jobs.length === 0 ? head : `${head} · jobs: ${describeJobs(jobs)}`;
}

/** "1 with workers, 2 started on vortex, workers not connected yet, 1 queued (Priority: 10)" */
function describeJobs(jobs: readonly WaitingJob[]): string {
  const withWorkers = jobs.filter((j) => j.workers.length > 0).length;
  const starting = jobs.filter((j) => j.workers.length === 0 && j.state.state === "running");
  const queued = jobs.filter((j) => j.workers.length === 0 && j.state.state === "queued");
  const other = jobs.length - withWorkers - starting.length - queued.length;
  const parts: string[] = [];
  if (withWorkers > 0) parts.push(`${withWorkers} with workers`);
  if (starting.length > 0) {
    const hosts = [...new Set(starting.flatMap((j) => (j.state.state === "running" && j.state.host ? [j.state.host] : [])))];
    parts.push(`${starting.length} started${hosts.length > 0 ? ` on ${hosts.slice(0, IDS_SHOWN).join(", ")}${hosts.length > IDS_SHOWN ? ", …" : ""}` : ""}, workers not connected yet`);
  }
  if (queued.length > 0) parts.push(`${queued.length} queued${reasons(queued)}`);
  if (other > 0) parts.push(`${other} ending or unknown`);
  return parts.join(", ");
}

/** " (Resources: 101, 102, 103, …; Priority: 104)" — grouped by the batch system's reason. */
function reasons(queued: readonly WaitingJob[]): string {
  const byReason = new Map<string, string[]>();
  for (const job of queued) {
    const reason = job.state.state === "queued" && job.state.reason ? job.state.reason : "";
    byReason.set(reason, [...(byReason.get(reason) ?? []), job.id]);
  }
  const named = [...byReason].filter(([reason]) => reason !== "");
  if (named.length === 0) return "";
  const list = (ids: string[]) => `${ids.slice(0, IDS_SHOWN).join(", ")}${ids.length > IDS_SHOWN ? `, … (${ids.length})` : ""}`;
  return ` (${named.map(([reason, ids]) => `${reason}: ${list(ids)}`).join("; ")})`;
}

export interface WaitProgressView {
  update(snapshot: WaitSnapshot): void;
  /** The last word: how it ended. */
  stop(outcome: "connected" | "failed", snapshot: WaitSnapshot): void;
}

export async function waitProgressView(options: WaitProgressOptions, wanted: number): Promise<WaitProgressView> {
  const stream = options.stream ?? process.stderr;
  const mode = options.mode ?? "auto";
  const bar = mode === "bar" || (mode === "auto" && stream.isTTY === true && !isCI());
  return bar ? barView(stream, wanted) : lineView(stream, Math.max(0, options.interval ?? 2000));
}

async function barView(stream: NodeJS.WritableStream, wanted: number): Promise<WaitProgressView> {
  const { SingleBar: Bar, Presets } = await import("cli-progress");
  const bar: SingleBar = new Bar({ stream, format: " workers |{bar}| {value}/{total} {jobs}", hideCursor: true, clearOnComplete: false, noTTYOutput: false }, Presets.shades_classic);
  bar.start(wanted, 0, { jobs: "" });
  const jobsPart = (s: WaitSnapshot) => describeJobs(s.jobs);
  return {
    update: (s) => bar.update(Math.min(s.connected, wanted), { jobs: jobsPart(s) }),
    stop(outcome, s) {
      bar.update(Math.min(s.connected, wanted), { jobs: outcome === "connected" ? "" : jobsPart(s) });
      bar.stop();
    },
  };
}

function lineView(stream: NodeJS.WritableStream, intervalMs: number): WaitProgressView {
  const started = Date.now();
  let lastLine = "";
  let lastWrite = 0;
  let pending: WaitSnapshot | undefined;
  let timer: NodeJS.Timeout | undefined;
  const write = (s: WaitSnapshot) => {
    const line = describeWait(s);
    if (line === lastLine) return;
    lastLine = line;
    lastWrite = Date.now();
    stream.write(`[skein] waiting: ${line}\n`);
  };
  return {
    update(s) {
      // A burst of changes (48 workers connecting) becomes one line per interval, with the latest picture.
      if (Date.now() - lastWrite >= intervalMs) return write(s);
      pending = s;
      timer ??= setTimeout(() => {
        timer = undefined;
        if (pending) write(pending);
        pending = undefined;
      }, intervalMs - (Date.now() - lastWrite));
      timer.unref();
    },
    stop(outcome, s) {
      if (timer) clearTimeout(timer);
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      if (outcome === "connected") stream.write(`[skein] ${s.connected} of ${s.wanted} worker${s.wanted === 1 ? "" : "s"} connected after ${seconds} s\n`);
      else stream.write(`[skein] gave up waiting after ${seconds} s: ${describeWait(s)}\n`);
    },
  };
}
