/**
 * Where a task runs. Locality first (a dependent runs on a worker that holds its inputs), then
 * estimated occupancy, within the task's restrictions.
 */
import type { SchedulerState, TaskState, WorkerState } from "./state/task-state.js";

/** Assumed cost of fetching one missing input from a peer, in seconds (one round trip on a LAN). */
const FETCH_LATENCY_SECONDS = 0.002;
/** Assumed worker-to-worker bandwidth, bytes per second. */
const BANDWIDTH_BYTES_PER_SECOND = 100e6;

/**
 * Workers the task may run on now: running ones only. A paused worker (memory) still holds inputs,
 * but is no candidate, even for a task whose inputs only it holds: the task runs elsewhere and
 * fetches them from it (a paused worker keeps serving its data).
 */
export function validWorkers(state: SchedulerState, ts: TaskState): WorkerState[] {
  const needs = ts.restrictions?.resources;
  // Resources are a hard limit: a worker that does not offer enough of them can never run the task.
  const running: WorkerState[] = [];
  for (const ws of state.workers.values()) if (ws.status === "running" && (!needs || offers(ws, needs))) running.push(ws);
  const wanted = ts.restrictions?.workers;
  if (!wanted || wanted.size === 0) return running;
  const allowed = running.filter((ws) => wanted.has(ws.name) || wanted.has(ws.address) || wanted.has(ws.host));
  return allowed.length > 0 || !ts.restrictions?.allowOtherWorkers ? allowed : running;
}

/** The worker declares at least this much of every resource (`skein worker --resources GPU=2`). */
function offers(ws: WorkerState, needs: Readonly<Record<string, number>>): boolean {
  for (const [name, amount] of Object.entries(needs)) if ((ws.resources[name] ?? 0) < amount) return false;
  return true;
}

/** A worker has enough work queued that more root tasks should wait on the scheduler. */
export function isSaturated(state: SchedulerState, ws: WorkerState): boolean {
  const { saturationSeconds, saturationTasksPerThread } = state.config;
  return ws.processing.size >= ws.nthreads * saturationTasksPerThread && occupancyOf(state, ws) >= ws.nthreads * saturationSeconds;
}

/** Estimated seconds of work sent to `ws` and not finished, with today's duration estimates. */
export function occupancyOf(state: SchedulerState, ws: WorkerState): number {
  let seconds = 0;
  for (const [prefix, count] of ws.processingPrefixes) seconds += count * (state.durations.get(prefix) ?? state.config.unknownDuration);
  return seconds;
}

/** Estimated seconds one call of this task takes. */
export function estimateDuration(state: SchedulerState, ts: TaskState): number {
  return state.durations.get(ts.prefix) ?? state.config.unknownDuration;
}

/** Fold a measured duration into the estimate for its prefix. */
export function recordDuration(state: SchedulerState, prefix: string, seconds: number): void {
  const previous = state.durations.get(prefix);
  state.durations.set(prefix, previous === undefined ? seconds : 0.5 * previous + 0.5 * seconds);
}

/**
 * Pick a worker, or undefined when none may run the task. Root tasks (no dependencies) skip
 * saturated workers and return undefined when all are saturated, so the caller queues them.
 */
export function decideWorker(state: SchedulerState, ts: TaskState, candidates = validWorkers(state, ts)): WorkerState | undefined {
  if (candidates.length === 0) return undefined;
  if (ts.dependencies.size === 0) {
    let best: WorkerState | undefined;
    for (const ws of candidates) {
      if (isSaturated(state, ws)) continue;
      if (!best || loadOf(state, ws) < loadOf(state, best)) best = ws;
    }
    return best;
  }
  // A task with inputs runs on a worker that holds some of them (as Dask does): moving it for a
  // load difference computed from estimates would trade certain transfers for guessed gains.
  // Idle workers get such tasks through work stealing instead.
  const holders = candidates.filter((ws) => holdsAnyInput(ts, ws));
  const pool = holders.length > 0 ? holders : candidates;
  let best: WorkerState | undefined;
  let bestCost = Number.POSITIVE_INFINITY;
  for (const ws of pool) {
    const cost = loadOf(state, ws) + transferCost(ts, ws);
    if (cost < bestCost || (cost === bestCost && best && ws.processing.size < best.processing.size)) {
      best = ws;
      bestCost = cost;
    }
  }
  return best;
}

function holdsAnyInput(ts: TaskState, ws: WorkerState): boolean {
  for (const dep of ts.dependencies) if (dep.whoHas.has(ws)) return true;
  return false;
}

/** Estimated seconds until a new task would start on `ws`. */
export function loadOf(state: SchedulerState, ws: WorkerState): number {
  return occupancyOf(state, ws) / ws.nthreads;
}

/** Estimated seconds to bring the task's missing inputs to `ws`. */
export function transferCost(ts: TaskState, ws: WorkerState): number {
  let seconds = 0;
  for (const dep of ts.dependencies) {
    if (!dep.whoHas.has(ws)) seconds += FETCH_LATENCY_SECONDS + dep.nbytes / BANDWIDTH_BYTES_PER_SECOND;
  }
  return seconds;
}

/**
 * Root tasks to move from the queue onto `ws` now, highest priority first: as many as fit before it
 * saturates, counting each task's estimated duration as it is added.
 */
export function takeFromQueue(state: SchedulerState, ws: WorkerState): TaskState[] {
  // Paused, retiring and closing workers have no room, whatever their load.
  if (ws.status !== "running") return [];
  const taken: TaskState[] = [];
  let count = ws.processing.size;
  let occupancy = occupancyOf(state, ws);
  const { saturationSeconds, saturationTasksPerThread } = state.config;
  const restricted: TaskState[] = [];
  while (state.queued.size > 0) {
    if (count >= ws.nthreads * saturationTasksPerThread && occupancy >= ws.nthreads * saturationSeconds) break;
    const ts = state.queued.pop() as TaskState;
    if (!validWorkers(state, ts).includes(ws)) {
      restricted.push(ts);
      continue;
    }
    taken.push(ts);
    count += 1;
    occupancy += estimateDuration(state, ts);
  }
  // Everything goes back: a queued task stays in the queue until its transition to processing
  // takes it out, so the queue and the task states never disagree in between.
  for (const ts of restricted) state.queued.add(ts);
  for (const ts of taken) state.queued.add(ts);
  return taken;
}
