/**
 * Retiring workers (scale down, walltime ahead, SIGTERM): a retiring worker takes no new tasks,
 * its results that nobody else holds and somebody still needs are copied to running workers, and
 * once nothing runs there and every such result has another copy, it is told to close. Its removal
 * then counts as graceful: tasks it still had go back without counting against it.
 */
import { toWorker, type Effect, type MessageEffect } from "../effects.js";
import type { EventOf } from "../events.js";
import type { SchedulerState, TaskState, WorkerState } from "../task-state.js";
import { isNeeded } from "../transitions/common.js";

export function workersRetiring(state: SchedulerState, event: EventOf<"workers-retiring">): Effect[] {
  for (const id of event.workerIds) {
    const ws = state.workers.get(id);
    // A paused worker (memory) may retire too: it still holds and serves its data.
    if (!ws || (ws.status !== "running" && ws.status !== "paused")) continue;
    ws.status = "closing-gracefully";
    ws.retireReason = event.reason;
    ws.retireForce = event.force;
  }
  // Progress (copies, close) is made after the event's transitions: see progressRetirements.
  return [];
}

/** Move every retiring worker one step on: ask for copies of what only it holds; close it once done. */
export function progressRetirements(state: SchedulerState, stimulusId: string): MessageEffect[] {
  const effects: MessageEffect[] = [];
  for (const ws of state.workers.values()) {
    if (ws.status === "closing-gracefully") effects.push(...progressRetirement(state, ws, stimulusId));
  }
  return effects;
}

function progressRetirement(state: SchedulerState, ws: WorkerState, stimulusId: string): MessageEffect[] {
  const targets = [...state.workers.values()].filter((w) => w.status === "running");
  const effects: MessageEffect[] = [];
  const load = new Map(targets.map((t) => [t, t.nbytes]));
  const requests = new Map<WorkerState, { key: string; nbytes: number; whoHas: string[] }[]>();
  for (const ts of ws.hasWhat) {
    if (!onlyHere(ts, ws) || ws.pendingReplicas.has(ts.key) || targets.length === 0) continue;
    // The least loaded running worker takes the copy.
    const target = targets.reduce((best, t) => ((load.get(t) as number) < (load.get(best) as number) ? t : best));
    load.set(target, (load.get(target) as number) + ts.nbytes);
    ws.pendingReplicas.add(ts.key);
    const list = requests.get(target) ?? [];
    list.push({ key: ts.key, nbytes: ts.nbytes, whoHas: [ws.address] });
    requests.set(target, list);
  }
  for (const [target, keys] of requests) effects.push(toWorker(target, { op: "acquire-replicas", keys, stimulusId }));
  for (const key of [...ws.pendingReplicas]) {
    const ts = state.tasks.get(key);
    if (!ts || !onlyHere(ts, ws)) ws.pendingReplicas.delete(key);
  }
  if (targets.length === 0 && ws.pendingReplicas.size === 0 && hasUniqueNeededData(ws) && !ws.retireForce) {
    // Nowhere to move results somebody still needs: keep the worker rather than lose them.
    ws.status = "running";
    ws.retireReason = undefined;
    return effects;
  }
  // With nowhere to copy to (a forced retirement), waiting would not help: the data is recomputed if needed.
  const copied = ws.pendingReplicas.size === 0 || targets.length === 0;
  if (ws.processing.size === 0 && copied) {
    ws.status = "closing";
    effects.push(toWorker(ws, { op: "close-worker", reason: ws.retireReason ?? "retired" }));
  }
  return effects;
}

function hasUniqueNeededData(ws: WorkerState): boolean {
  for (const ts of ws.hasWhat) if (onlyHere(ts, ws)) return true;
  return false;
}

/** Somebody needs this result and `ws` has the only copy. */
function onlyHere(ts: TaskState, ws: WorkerState): boolean {
  return ts.status === "memory" && ts.whoHas.size === 1 && ts.whoHas.has(ws) && isNeeded(ts);
}
