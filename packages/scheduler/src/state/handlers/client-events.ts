/** Events that come from clients: new graphs, released and cancelled keys, scatter. */
import { SKEIN_ERROR_CODES, type TaskSpec } from "@skein/serialization";
import { recommend, toClient, toWorker, type Effect } from "../effects.js";
import type { EventOf } from "../events.js";
import { link, newTask, prefixOf, unlink, type ClientState, type SchedulerState, type TaskState } from "../task-state.js";
import { FIRE_AND_FORGET, functionNeverSent, isNeeded } from "../transitions/common.js";
import { cyclicTasks, rememberRetries } from "./graph-events.js";
import { ownString, packBytes } from "../retained.js";

export function clientAdded(state: SchedulerState, event: EventOf<"client-added">): Effect[] {
  state.clients.set(event.clientId, { id: event.clientId, name: event.name, wants: new Set() });
  return [];
}

/** A client left: it no longer wants anything. */
export function clientRemoved(state: SchedulerState, event: EventOf<"client-removed">): Effect[] {
  const client = state.clients.get(event.clientId);
  if (!client) return [];
  state.clients.delete(event.clientId);
  return [...client.wants].flatMap((ts) => unwant(client, ts));
}

export function graphUpdated(state: SchedulerState, event: EventOf<"graph-updated">): Effect[] {
  const client = state.clients.get(event.clientId);
  if (!client) return [];
  for (const spec of event.functions) {
    const hash = ownString(spec.hash);
    state.functions.set(hash, { ...spec, hash });
  }
  const effects: Effect[] = [];
  const created: [TaskState, readonly string[]][] = [];
  // Nothing a task keeps may point into the message (./retained.ts).
  const args = packBytes(event.tasks.map((spec) => spec.args));
  for (let i = 0; i < event.tasks.length; i++) {
    const spec = event.tasks[i] as TaskSpec;
    const existing = state.tasks.get(spec.key);
    // A key names a computation: an existing task keeps its recipe, unless it has none (lost scatter).
    if (existing && existing.run) continue;
    const ts = existing ?? newTaskFor(state, spec.key, spec.priority);
    // Every task of a function shares its hash string (the key of state.functions).
    ts.run = { fnHash: state.functions.get(spec.fnHash)?.hash ?? ownString(spec.fnHash), args: args[i] as Uint8Array };
    ts.retries = spec.retries;
    rememberRetries(ts, spec.retries);
    if (spec.workers || spec.resources) {
      ts.restrictions = {
        ...(spec.workers ? { workers: new Set(spec.workers) } : {}),
        allowOtherWorkers: spec.allowOtherWorkers ?? false,
        ...(spec.resources ? { resources: spec.resources } : {}),
      };
    }
    if (!state.functions.has(spec.fnHash)) {
      ts.exception = functionNeverSent(ts, spec.fnHash);
      ts.exceptionBlame = ts;
    }
    created.push([ts, spec.deps]);
  }
  // Tasks on a cycle fail and link none of their dependencies, so the graph stays acyclic.
  const cyclic = cyclicTasks(state, created);
  for (const [ts, deps] of created) {
    const cycle = cyclic.get(ts);
    if (cycle) {
      ts.exception ??= protocolFailure(cycle);
      ts.exceptionBlame ??= ts;
      continue;
    }
    for (const depKey of deps) {
      const dep = state.tasks.get(depKey);
      if (!dep || dep === ts) {
        ts.exception ??= protocolFailure(
          dep === ts
            ? `task ${ts.key} depends on itself`
            : `task ${ts.key} depends on ${depKey}, which the scheduler does not know: its future was released, or it belongs to another client that left`,
        );
        ts.exceptionBlame ??= ts;
        continue;
      }
      link(ts, "dependencies", dep);
      link(dep, "dependents", ts);
    }
  }
  for (const key of event.wants) {
    const ts = state.tasks.get(key);
    if (!ts) {
      effects.push(toClient(client, { op: "key-erred", key, blame: key, error: protocolFailure(`key ${key} is unknown to the scheduler; it was released before this client asked for it`) }));
      continue;
    }
    link(ts, "whoWants", client);
    client.wants.add(ts);
    effects.push(...announceCurrent(ts, client));
  }
  for (const [ts] of created) {
    if (ts.status !== "released") continue;
    // Nobody wants it and nothing needs it: a graph's inner task whose dependent already existed
    // (that keeps its own recipe), or one cut loose by a cycle. Kept, it would never be forgotten.
    if (ts.whoWants.size === 0 && ts.dependents.size === 0) effects.push(recommend(ts, "forgotten"));
    else if (ts.exception) effects.push(recommend(ts, "erred"));
  }
  return effects;
}

export function keysReleased(state: SchedulerState, event: EventOf<"keys-released">): Effect[] {
  const client = state.clients.get(event.clientId);
  if (!client) return [];
  const effects: Effect[] = [];
  for (const key of event.keys) {
    const ts = state.tasks.get(key);
    if (ts && client.wants.has(ts)) effects.push(...unwant(client, ts));
  }
  return effects;
}

/** Cancel keys for this client (every client with `force`) and the pending tasks that need them. */
export function keysCancelled(state: SchedulerState, event: EventOf<"keys-cancelled">): Effect[] {
  const client = state.clients.get(event.clientId);
  if (!client) return [];
  const effects: Effect[] = [];
  const seen = new Set<TaskState>();
  // Depth first, dependents in order, without recursion: a graph's chains can be 10 000 long.
  const stack: [TaskState, string][] = [];
  const asked = new Set(event.keys);
  for (const key of [...event.keys].reverse()) {
    const ts = state.tasks.get(key);
    if (ts) stack.push([ts, event.force ? "cancelled (forced)" : "cancelled"]);
  }
  while (stack.length > 0) {
    const [ts, reason] = stack.pop() as [TaskState, string];
    if (seen.has(ts)) continue;
    seen.add(ts);
    if (ts.status === "memory" || ts.status === "erred") {
      // Done already: cancelling it only drops this client's interest.
      if (ts.whoWants.has(client) && asked.has(ts.key)) effects.push(...unwantCancelled(client, ts, reason));
      continue;
    }
    const clients = event.force ? [...ts.whoWants] : ts.whoWants.has(client) ? [client] : [];
    for (const c of clients) effects.push(...unwantCancelled(c, ts, reason));
    for (const dts of [...ts.dependents].reverse()) stack.push([dts, `its dependency ${ts.key} was cancelled`]);
  }
  return effects;
}

export function scatterRequested(state: SchedulerState, event: EventOf<"scatter-requested">): Effect[] {
  const client = state.clients.get(event.clientId);
  if (!client) return [];
  const wanted = event.workers ? new Set(event.workers) : undefined;
  const targets = [...state.workers.values()].filter(
    (ws) => ws.status === "running" && (!wanted || wanted.has(ws.name) || wanted.has(ws.address) || wanted.has(ws.host)),
  );
  if (targets.length === 0) {
    const error = wanted
      ? `none of the workers ${[...wanted].join(", ")} is connected; connected: ${[...state.workers.values()].map((w) => w.name).join(", ") || "none"}`
      : "no workers are connected yet; wait for workers (cluster.waitForWorkers) before scattering";
    return [toClient(client, { op: "scatter-reply", requestId: event.requestId, stored: [], error })];
  }
  const scatterId = state.sequence++;
  const remaining = new Set<string>();
  const effects: Effect[] = [];
  // Spread items over the least loaded workers first.
  targets.sort((a, b) => a.nbytes - b.nbytes);
  event.items.forEach((item, index) => {
    const holders = event.broadcast ? targets : [targets[index % targets.length] as (typeof targets)[number]];
    for (const ws of holders) {
      remaining.add(`${item.key}\0${ws.id}`);
      effects.push(toWorker(ws, { op: "put-data", requestId: scatterId, key: item.key, data: item.data, stimulusId: event.stimulusId }));
    }
  });
  state.scatters.set(String(scatterId), { client, requestId: event.requestId, remaining, stored: [] });
  return effects;
}

// --- internal ---

function newTaskFor(state: SchedulerState, key: string, priority: number): TaskState {
  const own = ownString(key);
  const ts = newTask(own, [-priority, state.sequence++], prefixOf(state, own));
  state.tasks.set(own, ts);
  return ts;
}

/** Tell a client that wants `ts` what it can know already. */
function announceCurrent(ts: TaskState, client: ClientState): Effect[] {
  if (ts.status === "memory") {
    const data = ts.inline;
    return [toClient(client, { op: "key-in-memory", key: ts.key, nbytes: ts.nbytes, typeName: ts.typeName, whoHas: [...ts.whoHas].map((w) => w.address), ...(data ? { data } : {}) })];
  }
  if (ts.status === "erred" && ts.exception) {
    return [toClient(client, { op: "key-erred", key: ts.key, blame: ts.exceptionBlame?.key ?? ts.key, error: ts.exception })];
  }
  if (ts.status === "released") return [recommend(ts, "waiting")];
  return [];
}

function unwant(client: ClientState, ts: TaskState): Effect[] {
  unlink(ts, "whoWants", client);
  client.wants.delete(ts);
  if (isNeeded(ts)) return [];
  return [recommend(ts, ts.dependents.size === 0 ? "forgotten" : "released")];
}

function unwantCancelled(client: ClientState, ts: TaskState, reason: string): Effect[] {
  if (client.id === FIRE_AND_FORGET) return unwant(client, ts);
  return [toClient(client, { op: "key-cancelled", key: ts.key, reason }), ...unwant(client, ts)];
}

function protocolFailure(message: string) {
  return { name: "SkeinError", code: SKEIN_ERROR_CODES.PROTOCOL, message };
}
