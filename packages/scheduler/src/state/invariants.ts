/**
 * What must hold between the scheduler's records. Checked after every transition in tests
 * (`validate: true`), so a broken transition fails at the step that broke it.
 */
import type { SchedulerState, TaskState } from "./task-state.js";

export class InvariantError extends Error {
  override name = "InvariantError";
}

function check(condition: boolean, state: SchedulerState, ts: TaskState | undefined, message: string): void {
  if (condition) return;
  const story = ts ? ` Story: ${state.story.describe(ts.key)}` : "";
  throw new InvariantError(`${ts ? `task ${ts.key} (${ts.status}): ` : ""}${message}.${story}`);
}

/** Invariants of one task and its links. */
export function validateTask(state: SchedulerState, ts: TaskState): void {
  const s = ts.status;
  if (s === "forgotten") {
    check(state.tasks.get(ts.key) !== ts, state, ts, "forgotten but still in the task table");
    return;
  }
  check(state.tasks.get(ts.key) === ts, state, ts, "not in the task table");
  check((s === "processing") === (ts.processingOn !== undefined), state, ts, "processingOn must be set exactly while processing");
  if (ts.processingOn) check(ts.processingOn.processing.has(ts), state, ts, "its worker does not list it as processing");
  check((s === "memory") === (ts.whoHas.size > 0), state, ts, "whoHas must be non-empty exactly while in memory");
  for (const ws of ts.whoHas) check(ws.hasWhat.has(ts), state, ts, `worker ${ws.name} holds it but does not list it`);
  check((s === "queued") === state.queued.has(ts), state, ts, "must be in the queue exactly while queued");
  check((s === "no-worker") === state.noWorker.has(ts), state, ts, "must be in the no-worker set exactly while no-worker");
  check((s === "erred") === (ts.exception !== undefined), state, ts, "must have an exception exactly while erred");
  if (s !== "waiting") check(ts.waitingOn.size === 0, state, ts, "waitingOn must be empty unless waiting");
  for (const dep of ts.waitingOn) check(dep.status !== "memory", state, ts, `waits on ${dep.key}, which is already in memory`);
  for (const dep of ts.dependencies) check(dep.dependents.has(ts), state, ts, `dependency ${dep.key} does not list it as a dependent`);
  for (const dts of ts.dependents) check(dts.dependencies.has(ts), state, ts, `dependent ${dts.key} does not list it as a dependency`);
  for (const dts of ts.waiters) check(ts.dependents.has(dts), state, ts, `waiter ${dts.key} is not a dependent`);
  for (const client of ts.whoWants) check(client.wants.has(ts), state, ts, `client ${client.name} does not list it as wanted`);
  if (s === "waiting" || s === "queued" || s === "no-worker" || s === "processing") {
    for (const dep of ts.dependencies) check(dep.waiters.has(ts), state, ts, `pending but not among the waiters of ${dep.key}`);
  }
}

/** Every invariant, everywhere (after each event in tests). */
export function validateState(state: SchedulerState): void {
  for (const ts of state.tasks.values()) {
    validateTask(state, ts);
    if (ts.status === "waiting") check(ts.waitingOn.size > 0, state, ts, "waiting on nothing after the event settled");
    if (ts.status === "released") check(ts.whoWants.size === 0 && ts.waiters.size === 0, state, ts, "needed but left released");
  }
  for (const ws of state.workers.values()) {
    for (const ts of ws.processing) check(ts.processingOn === ws, state, ts, `listed as processing on ${ws.name} but runs elsewhere`);
    for (const ts of ws.hasWhat) check(ts.whoHas.has(ws), state, ts, `listed on ${ws.name} but not held there`);
  }
  for (const client of state.clients.values()) {
    for (const ts of client.wants) check(ts.whoWants.has(client), state, ts, `client ${client.name} wants it but is not in whoWants`);
  }
}
