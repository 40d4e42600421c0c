/**
 * What the dashboard page shows, built from the scheduler's state. Pure: the caller passes the
 * clock, the scheduler's own load and the jobs, so tests can build a state and compare the result.
 */
import type { SchedulerState, TaskStatus, WorkerStatus } from "../state/task-state.js";
import type { GroupTotals } from "./task-stream.js";

export const TASK_STATUSES: readonly TaskStatus[] = ["released", "waiting", "queued", "no-worker", "processing", "memory", "erred", "forgotten"];
/** Worker statuses always counted (0 when none); a status not listed here is counted when a worker has it. */
export const WORKER_STATUSES: readonly string[] = ["running", "paused", "closing-gracefully", "closing"];

/** Groups shown on the page; more are counted in `hiddenGroups`. */
export const DEFAULT_MAX_GROUPS = 50;
/** Jobs shown on the page, newest first; more are counted in `hiddenJobs`. */
export const DEFAULT_MAX_JOBS = 200;

/** A batch job as the cluster that started it describes it (the scheduler itself knows no jobs). */
export interface DashboardJob {
  readonly id: string;
  /** "queued", "running", "exited" or "unknown". */
  readonly state: string;
  /** Why it is queued, how it exited, or what is unknown, when the batch system says. */
  readonly detail?: string;
  /** Where it runs, when known. */
  readonly host?: string;
  /** Epoch milliseconds. */
  readonly submittedAt: number;
  /** When it was first seen running (epoch ms). */
  readonly startedAt?: number;
  /** When it was first seen gone (epoch ms). */
  readonly endedAt?: number;
  /** The walltime the batch system enforces, in seconds; absent when nothing enforces one. */
  readonly walltimeSeconds?: number;
  /** Names of its workers connected now. */
  readonly workers: readonly string[];
}

export interface SchedulerLoad {
  /** Event-loop delay over the last interval, in milliseconds. */
  readonly eventLoopDelayMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** CPU time the scheduler's process used over the last interval, in % of one core. */
  readonly cpuPercent: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly uptimeSeconds: number;
}

export interface WorkerRow {
  readonly id: string;
  readonly name: string;
  readonly host: string;
  readonly pid: number;
  readonly status: WorkerStatus;
  readonly nthreads: number;
  /** Tasks the scheduler has sent it and not heard back about. */
  readonly processing: number;
  /** Tasks running in its threads, per its last heartbeat. */
  readonly executing: number;
  /** Threads busy, in % (executing / nthreads): the CPU the worker's tasks hold. */
  readonly busyPercent: number;
  /** Results it holds, and their size. */
  readonly inMemory: number;
  readonly nbytes: number;
  /** Resident memory of the worker process, per its last heartbeat (0 before the first). */
  readonly rssBytes: number;
  /** 0 when it has no limit. */
  readonly memoryLimitBytes: number;
  readonly lastSeenSecondsAgo: number;
}

export interface GroupRow {
  /** The key prefix: the function name for generated keys ("inc" in "inc-3f2a…"). */
  readonly prefix: string;
  /** Tasks of this group the scheduler holds now, by state (every state present, 0 when none). */
  readonly states: Readonly<Record<TaskStatus, number>>;
  /** Sum of `states`. */
  readonly total: number;
  /** Finished since the scheduler started (including tasks since forgotten), and of those, failed. */
  readonly finishedEver: number;
  readonly erredEver: number;
}

export interface JobRow extends DashboardJob {
  /** Seconds between submission and start (or now, while queued). */
  readonly queuedSeconds: number;
  /** Seconds since it started (until it ended); absent before it started. */
  readonly runningSeconds?: number;
  /** Walltime minus running time, while running under an enforced walltime. */
  readonly walltimeLeftSeconds?: number;
}

export interface DashboardSnapshot {
  readonly schedulerId: string;
  readonly address: string;
  /** Epoch milliseconds when it was built. */
  readonly time: number;
  readonly totals: {
    readonly tasks: Readonly<Record<TaskStatus, number>>;
    /** Connected workers by status (every status in WORKER_STATUSES present). */
    readonly workers: Readonly<Record<string, number>>;
    readonly threads: number;
    readonly bytesHeld: number;
    readonly clients: number;
  };
  readonly workers: readonly WorkerRow[];
  readonly groups: readonly GroupRow[];
  readonly hiddenGroups: number;
  /** Undefined when no cluster registered a jobs provider (a scheduler on its own). */
  readonly jobs: readonly JobRow[] | undefined;
  readonly hiddenJobs: number;
  /** The page may ask for `/api/job-log?id=` (the backend can read job output). */
  readonly jobLogs: boolean;
  readonly load: SchedulerLoad;
}

export interface SnapshotInput {
  readonly state: SchedulerState;
  readonly schedulerId: string;
  readonly address: string;
  readonly now: number;
  readonly load: SchedulerLoad;
  readonly jobs?: readonly DashboardJob[] | undefined;
  readonly jobLogs?: boolean;
  /** Totals per group since the start (TaskStream.groups). */
  readonly groupTotals?: ReadonlyMap<string, Readonly<GroupTotals>>;
  readonly maxGroups?: number;
  readonly maxJobs?: number;
}

export function buildSnapshot(input: SnapshotInput): DashboardSnapshot {
  const { state, now } = input;
  const tasks = zeroCounts(TASK_STATUSES);
  const workerCounts: Record<string, number> = zeroCounts(WORKER_STATUSES);
  let threads = 0;
  let bytesHeld = 0;
  const workers: WorkerRow[] = [];
  for (const ws of state.workers.values()) {
    workerCounts[ws.status] = (workerCounts[ws.status] ?? 0) + 1;
    threads += ws.nthreads;
    bytesHeld += ws.nbytes;
    const executing = ws.metrics.executing;
    workers.push({
      id: ws.id,
      name: ws.name,
      host: ws.host,
      pid: ws.pid,
      status: ws.status,
      nthreads: ws.nthreads,
      processing: ws.processing.size,
      executing,
      busyPercent: ws.nthreads > 0 ? Math.min(100, (100 * executing) / ws.nthreads) : 0,
      inMemory: ws.hasWhat.size,
      nbytes: ws.nbytes,
      rssBytes: ws.metrics.rss,
      memoryLimitBytes: ws.memoryLimit,
      lastSeenSecondsAgo: Math.max(0, (now - ws.lastSeen) / 1000),
    });
  }
  workers.sort((a, b) => a.name.localeCompare(b.name, "en", { numeric: true }));

  // Groups in the order their first task arrived (the tasks Map keeps insertion order).
  const current = new Map<string, Record<TaskStatus, number>>();
  for (const ts of state.tasks.values()) {
    tasks[ts.status] += 1;
    let counts = current.get(ts.prefix);
    if (!counts) current.set(ts.prefix, (counts = zeroCounts(TASK_STATUSES)));
    counts[ts.status] += 1;
  }
  const totalsOf = (prefix: string) => input.groupTotals?.get(prefix);
  const rows: GroupRow[] = [...current].map(([prefix, states]) => groupRow(prefix, states, totalsOf(prefix)));
  // Then groups that ran and whose tasks are all forgotten now, most recently active first.
  const finishedOnly = [...(input.groupTotals ?? new Map<string, GroupTotals>())].filter(([prefix]) => !current.has(prefix)).reverse();
  for (const [prefix, totals] of finishedOnly) rows.push(groupRow(prefix, zeroCounts(TASK_STATUSES), totals));
  const maxGroups = input.maxGroups ?? DEFAULT_MAX_GROUPS;

  let jobs: JobRow[] | undefined;
  let hiddenJobs = 0;
  if (input.jobs) {
    const maxJobs = input.maxJobs ?? DEFAULT_MAX_JOBS;
    const sorted = [...input.jobs].sort((a, b) => b.submittedAt - a.submittedAt);
    hiddenJobs = Math.max(0, sorted.length - maxJobs);
    jobs = sorted.slice(0, maxJobs).map((job) => jobRow(job, now));
  }

  return {
    schedulerId: input.schedulerId,
    address: input.address,
    time: now,
    totals: { tasks, workers: workerCounts, threads, bytesHeld, clients: state.clients.size },
    workers,
    groups: rows.slice(0, maxGroups),
    hiddenGroups: Math.max(0, rows.length - maxGroups),
    jobs,
    hiddenJobs,
    jobLogs: input.jobLogs ?? false,
    load: input.load,
  };
}

/** Times of a job, as of `now`. */
export function jobRow(job: DashboardJob, now: number): JobRow {
  const end = job.endedAt ?? now;
  const queuedSeconds = Math.max(0, ((job.startedAt ?? end) - job.submittedAt) / 1000);
  const row: JobRow = { ...job, queuedSeconds };
  if (job.startedAt === undefined) return row;
  const runningSeconds = Math.max(0, (end - job.startedAt) / 1000);
  const walltimeLeft = job.walltimeSeconds !== undefined && job.endedAt === undefined && job.state === "running" ? Math.max(0, job.walltimeSeconds - runningSeconds) : undefined;
  return { ...row, runningSeconds, ...(walltimeLeft === undefined ? {} : { walltimeLeftSeconds: walltimeLeft }) };
}

function groupRow(prefix: string, states: Record<TaskStatus, number>, totals: Readonly<GroupTotals> | undefined): GroupRow {
  const total = TASK_STATUSES.reduce((sum, s) => sum + states[s], 0);
  return { prefix, states, total, finishedEver: totals?.finished ?? 0, erredEver: totals?.erred ?? 0 };
}

function zeroCounts<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}
