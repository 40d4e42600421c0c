/** Events that come from workers: joining, leaving, results, failures, data movements. */
import { SKEIN_ERROR_CODES } from "@skein/serialization";
import { recordDuration, validWorkers } from "../../placement.js";
import { recommend, toClient, toWorker, type Effect } from "../effects.js";
import type { EventOf } from "../events.js";
import { before } from "../task-queue.js";
import { link, newTask, type SchedulerState, type TaskState, type WorkerState } from "../task-state.js";
import { addReplica, removeReplica } from "../transitions/common.js";

export function workerAdded(state: SchedulerState, event: EventOf<"worker-added">): Effect[] {
  const ws: WorkerState = {
    id: event.workerId,
    name: event.name,
    address: event.address,
    nthreads: event.nthreads,
    memoryLimit: event.memoryLimit,
    host: event.host,
    pid: event.pid,
    resources: event.resources,
    status: "running",
    processing: new Set(),
    hasWhat: new Set(),
    nbytes: 0,
    processingPrefixes: new Map(),
    knownFunctions: new Set(),
    pendingReplicas: new Set(),
    retireReason: undefined,
    retireForce: false,
    lastSeen: Date.now(),
    metrics: { executing: 0, ready: 0, rss: 0 },
  };
  state.workers.set(ws.id, ws);
  const effects: Effect[] = workersChanged(state);
  // In priority order, like the queue: the set is in arrival order, and tasks that came back from
  // a lost worker arrive after lower-priority ones that were only queued.
  const runnable = [...state.noWorker].filter((ts) => validWorkers(state, ts).includes(ws));
  runnable.sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
  for (const ts of runnable) effects.push(recommend(ts, "processing"));
  // Queued root tasks follow from the engine once these are placed (fillQueueSlots).
  return effects;
}

/**
 * A worker left. Its running tasks go back to the queue; a task that was running on too many
 * workers that died fails instead of killing the next one. Results only it held are lost and get
 * recomputed if anyone still needs them.
 */
export function workerRemoved(state: SchedulerState, event: EventOf<"worker-removed">): Effect[] {
  const ws = state.workers.get(event.workerId);
  if (!ws) return [];
  state.workers.delete(ws.id);
  ws.status = "closing";
  const effects: Effect[] = [];
  for (const ts of ws.processing) {
    if (!event.graceful) ts.suspicious = [...(ts.suspicious ?? []), ws.name];
    if (ts.suspicious && ts.suspicious.length >= state.config.allowedFailures) {
      ts.exception = killedWorker(ts, state.config.allowedFailures, event.reason);
      ts.exceptionBlame = ts;
      effects.push(recommend(ts, "erred"));
    } else {
      effects.push(recommend(ts, "waiting"));
    }
  }
  for (const ts of [...ws.hasWhat]) {
    removeReplica(ts, ws);
    if (ts.whoHas.size === 0 && ts.status === "memory") effects.push(recommend(ts, "released"));
  }
  effects.push(...failScattersOn(state, ws, event.reason));
  effects.push(...workersChanged(state));
  // Tasks queued for lack of room may now have nowhere to go at all.
  if (state.workers.size === 0) for (const ts of state.queued) effects.push(recommend(ts, "no-worker"));
  return effects;
}

export function taskFinished(state: SchedulerState, event: EventOf<"task-finished">): Effect[] {
  const ws = state.workers.get(event.workerId);
  if (!ws) return [];
  const ts = state.tasks.get(event.key);
  recordDurationOf(state, ts, event.durationMs);
  if (!ts || ts.processingOn !== ws) return unexpectedResult(state, ws, ts, event);
  ts.nbytes = event.nbytes;
  ts.typeName = event.typeName;
  // Kept only for keys a client wants (bounded: ≤ 1 KiB each), to hand over with key-in-memory.
  ts.inline = event.data && ts.whoWants.size > 0 ? event.data : undefined;
  // The slot it frees is refilled from the queue by the engine, after this event's transitions.
  return [recommend(ts, "memory")];
}

export function taskErred(state: SchedulerState, event: EventOf<"task-erred">): Effect[] {
  const ws = state.workers.get(event.workerId);
  if (!ws) return [];
  const ts = state.tasks.get(event.key);
  if (!ts || ts.processingOn !== ws) return [];
  if (ts.retries > 0) {
    ts.retries -= 1;
    return [recommend(ts, "waiting")];
  }
  ts.exception = event.error;
  ts.exceptionBlame = ts;
  return [recommend(ts, "erred")];
}

/** A worker fetched copies of dependencies from its peers. */
export function keysAdded(state: SchedulerState, event: EventOf<"keys-added">): Effect[] {
  const ws = state.workers.get(event.workerId);
  if (!ws) return [];
  const unwanted: string[] = [];
  for (const { key } of event.keys) {
    const ts = state.tasks.get(key);
    if (ts && ts.status === "memory") addReplica(ts, ws);
    else unwanted.push(key);
  }
  return unwanted.length > 0 ? [toWorker(ws, { op: "free-keys", keys: unwanted, stimulusId: event.stimulusId })] : [];
}

/** A peer did not have a dependency we said it had: correct our records and place the task again. */
export function missingData(state: SchedulerState, event: EventOf<"missing-data">): Effect[] {
  const ws = state.workers.get(event.workerId);
  if (!ws) return [];
  const effects: Effect[] = [];
  const dep = state.tasks.get(event.dep);
  const holder = [...state.workers.values()].find((w) => w.address === event.from);
  if (dep && holder && dep.whoHas.has(holder)) {
    removeReplica(dep, holder);
    if (dep.whoHas.size === 0 && dep.status === "memory") effects.push(recommend(dep, "released"));
  }
  const ts = state.tasks.get(event.key);
  if (ts && ts.processingOn === ws) effects.push(recommend(ts, "waiting"));
  return effects;
}

/** A worker stored scattered data. */
export function dataStored(state: SchedulerState, event: EventOf<"data-stored">): Effect[] {
  const ws = state.workers.get(event.workerId);
  if (!ws) return [];
  const pending = state.scatters.get(String(event.requestId));
  if (!pending || state.clients.get(pending.client.id) !== pending.client) return orphanedCopy(state, ws, event);
  const effects: Effect[] = [];
  let ts = state.tasks.get(event.key);
  if (!ts) {
    ts = newTask(event.key, [0, state.sequence++]);
    state.tasks.set(ts.key, ts);
  }
  ts.nbytes = event.nbytes;
  ts.typeName ||= "scattered";
  link(ts, "whoWants", pending.client);
  pending.client.wants.add(ts);
  if (ts.status === "memory") addReplica(ts, ws);
  else effects.push(recommend(ts, "memory", ws));
  pending.remaining.delete(`${event.key}\0${ws.id}`);
  const entry = pending.stored.find((s) => s.key === event.key);
  if (entry) entry.whoHas.push(ws.address);
  else pending.stored.push({ key: event.key, nbytes: event.nbytes, whoHas: [ws.address] });
  if (pending.remaining.size === 0) {
    state.scatters.delete(String(event.requestId));
    effects.push(toClient(pending.client, { op: "scatter-reply", requestId: pending.requestId, stored: pending.stored }));
  }
  return effects;
}

// --- internal ---

/**
 * A scattered copy nobody will ask for: its scatter already failed (another of its workers left)
 * or its client left before the data arrived. Kept, it would sit on the worker for good, wanted by
 * no one (before this, it became a "memory" task that nothing ever released).
 */
function orphanedCopy(state: SchedulerState, ws: WorkerState, event: EventOf<"data-stored">): Effect[] {
  const pending = state.scatters.get(String(event.requestId));
  if (pending) {
    pending.remaining.delete(`${event.key}\0${ws.id}`);
    if (pending.remaining.size === 0) state.scatters.delete(String(event.requestId));
  }
  const ts = state.tasks.get(event.key);
  if (ts?.status === "memory") {
    addReplica(ts, ws);
    return [];
  }
  return [toWorker(ws, { op: "free-keys", keys: [event.key], stimulusId: event.stimulusId })];
}

function recordDurationOf(state: SchedulerState, ts: TaskState | undefined, durationMs: number): void {
  if (ts) recordDuration(state, ts.prefix, durationMs / 1000);
}

/** A result we did not ask this worker for (cancelled meanwhile, or computed twice). */
function unexpectedResult(state: SchedulerState, ws: WorkerState, ts: TaskState | undefined, event: EventOf<"task-finished">): Effect[] {
  if (ts && ts.status === "memory") {
    ts.nbytes ||= event.nbytes;
    addReplica(ts, ws);
    return [];
  }
  if (ts && ts.status !== "forgotten" && ts.status !== "erred" && !ts.processingOn && ts.run && ts.waiters.size + ts.whoWants.size > 0) {
    // It was moved back to waiting (e.g. its worker was thought lost) but the result is here: use it.
    // The type name too: key-in-memory carried "" for such results before.
    ts.nbytes = event.nbytes;
    ts.typeName = event.typeName;
    return [recommend(ts, "memory", ws)];
  }
  return [toWorker(ws, { op: "free-keys", keys: [event.key], stimulusId: event.stimulusId })];
}

function failScattersOn(state: SchedulerState, ws: WorkerState, reason: string): Effect[] {
  const effects: Effect[] = [];
  for (const [id, pending] of state.scatters) {
    const lost = [...pending.remaining].filter((entry) => entry.endsWith(`\0${ws.id}`));
    if (lost.length === 0) continue;
    state.scatters.delete(id);
    effects.push(
      toClient(pending.client, {
        op: "scatter-reply",
        requestId: pending.requestId,
        stored: pending.stored,
        error: `worker ${ws.name} left before storing ${lost.length} item(s): ${reason}`,
      }),
    );
  }
  return effects;
}

function workersChanged(state: SchedulerState): Effect[] {
  const names = [...state.workers.values()].map((w) => w.name);
  return [...state.clients.values()].map((client) => toClient(client, { op: "workers-changed", count: names.length, names }));
}

function killedWorker(ts: TaskState, allowed: number, reason: string) {
  const workers = ts.suspicious ?? [];
  return {
    name: "KilledWorkerError",
    code: SKEIN_ERROR_CODES.KILLED_WORKER,
    message:
      `task ${ts.key} was running on ${workers.length} workers that died (${workers.join(", ")}; last: ${reason}). ` +
      `It may be what kills them (out of memory, a crash, process.exit). It will not be retried; the limit is ${allowed} (allowedFailures).`,
    props: { workers: workers.join(",") },
  };
}
