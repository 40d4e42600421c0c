/**
 * The scheduler's records: plain data, no behaviour. Transitions (./transitions) change them;
 * invariants (./invariants.ts) say what must always hold between them.
 */
import type { EncodedError, FunctionSpec } from "@skein/serialization";
import type { TaskQueue } from "./task-queue.js";
import { ownString } from "./retained.js";
import type { Story } from "./story.js";

export type TaskStatus = "released" | "waiting" | "queued" | "no-worker" | "processing" | "memory" | "erred" | "forgotten";

/** Where and how a task may run. */
export interface Restrictions {
  /** Worker names or addresses. */
  readonly workers?: ReadonlySet<string>;
  /** With `workers`: run elsewhere when none of them is there. */
  readonly allowOtherWorkers: boolean;
  /** Abstract resources the task consumes while running (honoured by placement later: issue 5). */
  readonly resources?: Readonly<Record<string, number>>;
}

export interface TaskState {
  readonly key: string;
  /** Task group: the function name part of the key ("multiply" in "multiply-1f3a…"). */
  readonly prefix: string;
  status: TaskStatus;
  /** How to compute it. Absent for scattered data, which cannot be recomputed. */
  run: { fnHash: string; args: Uint8Array } | undefined;
  /** Lower sorts first: [-user priority, submission order]. */
  priority: readonly [number, number];
  /** Retries left after a failure. */
  retries: number;
  restrictions: Restrictions | undefined;
  /*
   * The task's relations. Most of them are empty for most tasks (a pending root task has one client
   * and nothing else), so they all start as the shared NO_MEMBERS and get a Set of their own at
   * their first member: change them only with link / unlink / unlinkAll.
   */
  dependencies: ReadonlySet<TaskState>;
  dependents: ReadonlySet<TaskState>;
  /** While waiting: dependencies not yet in memory. */
  waitingOn: ReadonlySet<TaskState>;
  /** Dependents that still need this result (waiting, queued, processing). */
  waiters: ReadonlySet<TaskState>;
  whoWants: ReadonlySet<ClientState>;
  whoHas: ReadonlySet<WorkerState>;
  processingOn: WorkerState | undefined;
  /** A steal-request is out for this task; the worker that would take it. */
  stealTarget: WorkerState | undefined;
  /** Where the next placement should put it, if still valid (set when a task was stolen). */
  preferredWorker: WorkerState | undefined;
  nbytes: number;
  typeName: string;
  /** The encoded result, when small and wanted by a client (sent with key-in-memory). */
  inline: Uint8Array | undefined;
  /** Names of workers that died while running this task. */
  suspicious: string[] | undefined;
  exception: EncodedError | undefined;
  /** The task whose own failure made this one fail (itself, or a dependency). */
  exceptionBlame: TaskState | undefined;
}

/**
 * running: takes tasks. paused: its process memory is above its pause threshold (the worker says
 * so with worker-status); it gets no new tasks, finishes the ones it has, still holds and serves
 * its results, and is running again when it says so. closing-gracefully: takes no new tasks; its
 * unique results are being copied elsewhere, after which it is told to close. closing: told to
 * close (or gone).
 */
export type WorkerStatus = "running" | "paused" | "closing-gracefully" | "closing";

export interface WorkerState {
  readonly id: string;
  readonly name: string;
  /** The worker's data server, `ws://host:port`; peers and clients fetch results there. */
  readonly address: string;
  readonly nthreads: number;
  readonly memoryLimit: number;
  readonly host: string;
  readonly pid: number;
  readonly resources: Readonly<Record<string, number>>;
  status: WorkerStatus;
  readonly processing: Set<TaskState>;
  readonly hasWhat: Set<TaskState>;
  /** Bytes of results held. */
  nbytes: number;
  /**
   * Tasks sent and not finished, counted by prefix. Occupancy (estimated seconds of work) is
   * computed from these counts and the current duration estimates, so it never goes stale when an
   * estimate improves.
   */
  readonly processingPrefixes: Map<string, number>;
  /** Function hashes this worker has been sent. */
  readonly knownFunctions: Set<string>;
  /** While retiring: keys asked to be copied to other workers and not yet confirmed. */
  readonly pendingReplicas: Set<string>;
  /** Why it is retiring, for its close-worker message. */
  retireReason: string | undefined;
  /** Retiring may lose results nobody else holds. */
  retireForce: boolean;
  lastSeen: number;
  metrics: { executing: number; ready: number; rss: number };
}

export interface ClientState {
  readonly id: string;
  readonly name: string;
  readonly wants: Set<TaskState>;
}

/** A scatter waiting for its workers to confirm. */
export interface PendingScatter {
  readonly client: ClientState;
  readonly requestId: number;
  readonly remaining: Set<string>;
  readonly stored: { key: string; nbytes: number; whoHas: string[] }[];
}

export interface SchedulerState {
  readonly tasks: Map<string, TaskState>;
  readonly workers: Map<string, WorkerState>;
  readonly clients: Map<string, ClientState>;
  readonly functions: Map<string, FunctionSpec>;
  /** Root tasks waiting for a worker to have room. */
  readonly queued: TaskQueue;
  /** Tasks that no current worker may run. */
  readonly noWorker: Set<TaskState>;
  /** Every task prefix seen, each string once: tasks of one group share it (see `prefixOf`). */
  readonly prefixes: Map<string, string>;
  /** Seconds per call, by task prefix (exponential moving average). */
  readonly durations: Map<string, number>;
  readonly scatters: Map<string, PendingScatter>;
  readonly story: Story;
  readonly config: SchedulerConfig;
  /** Submission counter for FIFO order within a priority. */
  sequence: number;
}

export interface SchedulerConfig {
  /** A task that was running on this many workers that died fails with KilledWorkerError. @default 3 */
  readonly allowedFailures: number;
  /** Assumed duration of a task whose prefix has never run, in seconds. @default 0.5 */
  readonly unknownDuration: number;
  /** Root tasks wait on the scheduler once a worker holds this much estimated work per thread, in seconds. @default 0.05 */
  readonly saturationSeconds: number;
  /** ...and at least this many tasks per thread (hides the round trip). @default 2 */
  readonly saturationTasksPerThread: number;
  /** Check every invariant after every transition (tests). @default false */
  readonly validate: boolean;
  /** Move queued tasks from busy workers to idle ones (see stealing.ts). @default true */
  readonly workStealing: boolean;
}

export const DEFAULT_SCHEDULER_CONFIG: SchedulerConfig = {
  allowedFailures: 3,
  unknownDuration: 0.5,
  saturationSeconds: 0.05,
  saturationTasksPerThread: 2,
  validate: false,
  workStealing: true,
};

export function newTask(key: string, priority: readonly [number, number], prefix = keyPrefix(key)): TaskState {
  return {
    key,
    prefix,
    status: "released",
    run: undefined,
    priority,
    retries: 0,
    restrictions: undefined,
    dependencies: NO_MEMBERS,
    dependents: NO_MEMBERS,
    waitingOn: NO_MEMBERS,
    waiters: NO_MEMBERS,
    whoWants: NO_MEMBERS,
    whoHas: NO_MEMBERS,
    processingOn: undefined,
    stealTarget: undefined,
    preferredWorker: undefined,
    nbytes: 0,
    typeName: "",
    inline: undefined,
    suspicious: undefined,
    exception: undefined,
    exceptionBlame: undefined,
  };
}

// --- relations ---

/** The empty relation every task starts with, shared by all of them; adding to it is a bug. */
class NoMembers extends Set<never> {
  override add(): this {
    throw new Error("NO_MEMBERS is shared by every task and stays empty: add through link()");
  }
}
export const NO_MEMBERS: ReadonlySet<never> = new NoMembers();

export type Relation = "dependencies" | "dependents" | "waitingOn" | "waiters" | "whoWants" | "whoHas";
type MemberOf<R extends Relation> = TaskState[R] extends ReadonlySet<infer T> ? T : never;
/** The relation fields, for the three functions below, the only ones that assign them. */
type Relations = Record<Relation, ReadonlySet<unknown>>;

/** Add `member` to a relation of `ts`; the relation gets its own Set at its first member. */
export function link<R extends Relation>(ts: TaskState, relation: R, member: MemberOf<R>): void {
  const set = ts[relation] as ReadonlySet<MemberOf<R>>;
  if (set === NO_MEMBERS) (ts as Relations)[relation] = new Set([member]);
  else (set as Set<MemberOf<R>>).add(member);
}

/** Remove `member`; true when it was there. An emptied relation goes back to NO_MEMBERS. */
export function unlink<R extends Relation>(ts: TaskState, relation: R, member: MemberOf<R>): boolean {
  const set = ts[relation] as ReadonlySet<MemberOf<R>>;
  if (!(set as Set<MemberOf<R>>).delete(member)) return false;
  if (set.size === 0) (ts as Relations)[relation] = NO_MEMBERS;
  return true;
}

/** Empty a relation of `ts`. */
export function unlinkAll(ts: TaskState, relation: Relation): void {
  (ts as Relations)[relation] = NO_MEMBERS;
}

/** The prefix of `key`, as the one string all tasks of its group share. */
export function prefixOf(state: SchedulerState, key: string): string {
  const prefix = keyPrefix(key);
  const known = state.prefixes.get(prefix);
  if (known !== undefined) return known;
  const own = ownString(prefix);
  state.prefixes.set(own, own);
  return own;
}

/** "multiply-1f3a9c" → "multiply"; keys without a hash part are their own prefix. */
export function keyPrefix(key: string): string {
  const dash = key.lastIndexOf("-");
  return dash > 0 ? key.slice(0, dash) : key;
}
