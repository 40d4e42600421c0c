/**
 * Graph events from clients beyond update-graph: fire-and-forget (the scheduler's own client holds
 * the keys until their tasks finish, as in Dask) and retry (erred tasks and their erred
 * dependencies go back through released, with their retries renewed). Also the cycle check of new
 * graphs.
 */
import { SKEIN_ERROR_CODES, type EncodedError } from "@skein/serialization";
import { recommend, toClient, type Effect } from "../effects.js";
import type { EventOf } from "../events.js";
import { link, type ClientState, type SchedulerState, type TaskState } from "../task-state.js";
import { FIRE_AND_FORGET } from "../transitions/common.js";
import { cyclesAmong } from "./cycles.js";

/**
 * The retries a task was submitted with; `TaskState.retries` counts down as they are used. Only
 * tasks submitted with retries are here: with none, `retries` stays 0 and there is nothing to renew.
 */
const submittedRetries = new WeakMap<TaskState, number>();

export function rememberRetries(ts: TaskState, retries: number): void {
  if (retries > 0) submittedRetries.set(ts, retries);
  else submittedRetries.delete(ts);
}

/** Hold these keys until they are done; the transitions to memory and erred let go (transitions/common.ts). */
export function keysFireAndForget(state: SchedulerState, event: EventOf<"keys-fire-and-forget">): Effect[] {
  if (!state.clients.has(event.clientId)) return [];
  const holder = fireAndForgetClient(state);
  const effects: Effect[] = [];
  for (const key of event.keys) {
    const ts = state.tasks.get(key);
    // Unknown (released already) or done: there is nothing left to keep running.
    if (!ts || ts.status === "memory" || ts.status === "erred") continue;
    link(ts, "whoWants", holder);
    holder.wants.add(ts);
    if (ts.status === "released") effects.push(recommend(ts, "waiting"));
  }
  return effects;
}

/**
 * Run erred keys again. Their erred dependencies run again too, dependencies first; a task whose
 * own failure cannot be cured by running it again (a bad graph, scattered data that was lost)
 * stays erred, and so do, at once, the tasks that need it. The client hears about every key it
 * asked for, as for any other outcome: key-in-memory or key-erred.
 */
export function keysRetried(state: SchedulerState, event: EventOf<"keys-retried">): Effect[] {
  const client = state.clients.get(event.clientId);
  if (!client) return [];
  const effects: Effect[] = [];
  const order: TaskState[] = [];
  const seen = new Set<TaskState>();
  for (const key of event.keys) {
    const ts = state.tasks.get(key);
    if (!ts) {
      effects.push(toClient(client, { op: "key-erred", key, blame: key, error: protocolFailure(`key ${key} is unknown to the scheduler and cannot be retried: it was released`) }));
    } else if (ts.status === "memory") {
      effects.push(toClient(client, { op: "key-in-memory", key, nbytes: ts.nbytes, typeName: ts.typeName, whoHas: [...ts.whoHas].map((w) => w.address) }));
    } else if (ts.status !== "erred" || seen.has(ts)) {
      // Pending: its outcome will be announced anyway.
    } else if (!curable(ts)) {
      effects.push(toClient(client, { op: "key-erred", key, blame: ts.key, error: ts.exception as EncodedError }));
    } else {
      collectErred(ts, seen, order);
    }
  }
  for (const ts of order) {
    ts.retries = submittedRetries.get(ts) ?? ts.retries;
    ts.suspicious = undefined;
    effects.push(recommend(ts, "released"));
  }
  return effects;
}

/**
 * The created tasks that sit on a dependency cycle, each with the reason to fail it. A new cycle
 * must use a new edge, and new edges start at created tasks; old tasks only point at tasks older
 * than themselves, unless a created task existed before (scattered data given a recipe), so the
 * walk stays inside the new tasks but in that case. Self-dependencies are the caller's.
 */
export function cyclicTasks(state: SchedulerState, created: readonly (readonly [TaskState, readonly string[]])[]): Map<TaskState, string> {
  // A task without dependencies cannot be on a cycle: only tasks with some are walked (a map of
  // 100 000 independent tasks walks none).
  const edges = new Map<TaskState, TaskState[]>();
  let reused = false;
  for (const [ts, deps] of created) {
    if (deps.length > 0) edges.set(ts, []);
    if (ts.dependents.size > 0) reused = true;
  }
  for (const [ts, deps] of created) {
    const list = edges.get(ts);
    if (!list) continue;
    for (const key of deps) {
      const dep = state.tasks.get(key);
      if (dep && dep !== ts && (reused || edges.has(dep))) list.push(dep);
    }
  }
  const next = (ts: TaskState): readonly TaskState[] => edges.get(ts) ?? (reused ? [...ts.dependencies] : []);
  const result = new Map<TaskState, string>();
  for (const cycle of cyclesAmong(edges.keys(), next)) {
    const keys = cycle.map((ts) => ts.key);
    const shown = keys.length > 10 ? `${keys.slice(0, 10).join(", ")} and ${keys.length - 10} more` : keys.join(", ");
    for (const ts of cycle) {
      if (!edges.has(ts)) continue;
      result.set(ts, `task ${ts.key} is part of a dependency cycle among ${shown}: tasks that wait for each other can never run. The graph used one key for two different tasks, or gave a task the key of one of its own inputs.`);
    }
  }
  return result;
}

// --- internal ---

function fireAndForgetClient(state: SchedulerState): ClientState {
  let holder = state.clients.get(FIRE_AND_FORGET);
  if (!holder) {
    holder = { id: FIRE_AND_FORGET, name: FIRE_AND_FORGET, wants: new Set() };
    state.clients.set(holder.id, holder);
  }
  return holder;
}

/** Running it again may help: it has a recipe, and it did not fail for a reason running cannot change. */
function curable(ts: TaskState): boolean {
  const own = ts.exceptionBlame === undefined || ts.exceptionBlame === ts;
  if (!own) return true;
  const code = ts.exception?.code;
  return ts.run !== undefined && code !== SKEIN_ERROR_CODES.PROTOCOL && code !== SKEIN_ERROR_CODES.DATA_LOST;
}

/** `root` and its erred dependencies that can run again, dependencies first (iterative: chains can be long). */
function collectErred(root: TaskState, seen: Set<TaskState>, order: TaskState[]): void {
  seen.add(root);
  const stack: { ts: TaskState; deps: TaskState[]; i: number }[] = [{ ts: root, deps: [...root.dependencies], i: 0 }];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1] as (typeof stack)[number];
    if (frame.i < frame.deps.length) {
      const dep = frame.deps[frame.i++] as TaskState;
      if (dep.status === "erred" && !seen.has(dep)) {
        seen.add(dep);
        stack.push({ ts: dep, deps: [...dep.dependencies], i: 0 });
      }
      continue;
    }
    stack.pop();
    if (curable(frame.ts)) order.push(frame.ts);
  }
}

function protocolFailure(message: string): EncodedError {
  return { name: "SkeinError", code: SKEIN_ERROR_CODES.PROTOCOL, message };
}
