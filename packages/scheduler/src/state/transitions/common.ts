/** Bookkeeping shared by several transitions. Pure over the state; returns effects. */
import { SKEIN_ERROR_CODES, type Dependency, type EncodedError, type MessageOf } from "@skein/serialization";
import { decideWorker, validWorkers } from "../../placement.js";
import { recommend, toClient, toWorker, type Effect } from "../effects.js";
import { link, unlink, unlinkAll, type ClientState, type SchedulerState, type TaskState, type TaskStatus, type WorkerState } from "../task-state.js";

/** Context every transition receives. */
export interface TransitionContext {
  readonly stimulusId: string;
  /** The worker the recommendation named (processing target, scatter holder). */
  readonly worker?: WorkerState | undefined;
}

/** A transition that cannot happen now and recommends another target instead. */
export interface Decline {
  readonly decline: TaskStatus;
}
export const decline = (instead: TaskStatus): Decline => ({ decline: instead });
export const isDecline = (value: Effect[] | Decline): value is Decline => !Array.isArray(value);

export type TransitionHandler = (state: SchedulerState, ts: TaskState, ctx: TransitionContext) => Effect[] | Decline;

/** Someone still needs this result: a client holds a future for it, or a pending task reads it. */
export function isNeeded(ts: TaskState): boolean {
  return ts.whoWants.size > 0 || ts.waiters.size > 0;
}

/** Decide what a task that just became released does next. */
export function afterRelease(ts: TaskState): Effect[] {
  // Scattered data (no recipe) goes the same way: released->waiting turns it into a DATA_LOST
  // error. Setting the exception here, on a task that is still "released", broke the invariant
  // "an exception exactly while erred" at the end of this very transition.
  if (isNeeded(ts)) return [recommend(ts, "waiting")];
  return ts.dependents.size === 0 ? [recommend(ts, "forgotten")] : [];
}

/** `ts` no longer reads its dependencies; release those nobody else needs. */
export function leaveDependencies(ts: TaskState): Effect[] {
  const effects: Effect[] = [];
  for (const dep of ts.dependencies) {
    unlink(dep, "waiters", ts);
    if (!isNeeded(dep) && (dep.status === "memory" || isPending(dep.status))) effects.push(recommend(dep, "released"));
  }
  unlinkAll(ts, "waitingOn");
  return effects;
}

/** Not yet computed, but on its way. */
export function isPending(status: TaskStatus): boolean {
  return status === "waiting" || status === "queued" || status === "no-worker" || status === "processing";
}

/** Put a ready task on a worker: the chosen one if still valid, else the best one. */
export function startProcessing(state: SchedulerState, ts: TaskState, ctx: TransitionContext): Effect[] | Decline {
  const run = ts.run;
  if (!run) throw new Error(`task ${ts.key} has no recipe and cannot be processed`);
  const candidates = validWorkers(state, ts);
  const wanted = ctx.worker ?? ts.preferredWorker;
  ts.preferredWorker = undefined;
  let ws = wanted && candidates.includes(wanted) ? wanted : undefined;
  if (!ws) {
    if (candidates.length === 0) return decline("no-worker");
    ws = decideWorker(state, ts, candidates);
    if (!ws) return decline("queued");
  }
  ts.processingOn = ws;
  ws.processing.add(ts);
  ws.processingPrefixes.set(ts.prefix, (ws.processingPrefixes.get(ts.prefix) ?? 0) + 1);
  const effects: Effect[] = [];
  if (!ws.knownFunctions.has(run.fnHash)) {
    const spec = state.functions.get(run.fnHash);
    if (!spec) throw new Error(`task ${ts.key} uses function ${run.fnHash}, which was never defined`);
    ws.knownFunctions.add(run.fnHash);
    effects.push(toWorker(ws, { op: "define-functions", functions: [spec] }));
  }
  const deps: Dependency[] = [];
  for (const dep of ts.dependencies) deps.push({ key: dep.key, nbytes: dep.nbytes, whoHas: addressesOf(dep) });
  const message: MessageOf<"compute-task"> = { op: "compute-task", key: ts.key, fnHash: run.fnHash, args: run.args, deps, priority: [ts.priority[0], ts.priority[1]], stimulusId: ctx.stimulusId };
  const resources = ts.restrictions?.resources;
  if (resources) message.resources = { ...resources };
  effects.push(toWorker(ws, message));
  return effects;
}

/** Data addresses of the workers holding `ts`. */
function addressesOf(ts: TaskState): string[] {
  const addresses: string[] = [];
  for (const ws of ts.whoHas) addresses.push(ws.address);
  return addresses;
}

/** Take a task off the worker it was running on. */
export function stopProcessing(ts: TaskState): WorkerState | undefined {
  const ws = ts.processingOn;
  if (!ws) return undefined;
  ws.processing.delete(ts);
  ts.stealTarget = undefined;
  const count = (ws.processingPrefixes.get(ts.prefix) ?? 1) - 1;
  if (count > 0) ws.processingPrefixes.set(ts.prefix, count);
  else ws.processingPrefixes.delete(ts.prefix);
  ts.processingOn = undefined;
  return ws;
}

export function addReplica(ts: TaskState, ws: WorkerState): void {
  if (ts.whoHas.has(ws)) return;
  link(ts, "whoHas", ws);
  ws.hasWhat.add(ts);
  ws.nbytes += ts.nbytes;
}

export function removeReplica(ts: TaskState, ws: WorkerState): void {
  if (!unlink(ts, "whoHas", ws)) return;
  ws.hasWhat.delete(ts);
  ws.nbytes = Math.max(0, ws.nbytes - ts.nbytes);
}

/** Tell the clients that hold futures for `ts` that its result is ready. */
export function announceMemory(ts: TaskState): Effect[] {
  const effects: Effect[] = [];
  if (ts.whoWants.size === 0) return effects;
  const whoHas = addressesOf(ts);
  const data = ts.inline;
  for (const client of ts.whoWants) {
    if (!isRealClient(client)) continue;
    const message: MessageOf<"key-in-memory"> = { op: "key-in-memory", key: ts.key, nbytes: ts.nbytes, typeName: ts.typeName, whoHas };
    if (data) message.data = data;
    effects.push(toClient(client, message));
  }
  for (const effect of letGoOfFireAndForget(ts)) effects.push(effect);
  return effects;
}

/** Tell the clients that hold futures for `ts` that it failed, and fail its dependents. */
export function announceErred(ts: TaskState): Effect[] {
  const error = ts.exception as EncodedError;
  const blame = ts.exceptionBlame?.key ?? ts.key;
  const effects: Effect[] = [...ts.whoWants].filter(isRealClient).map((client) => toClient(client, { op: "key-erred", key: ts.key, blame, error }));
  for (const dts of ts.dependents) {
    if (dts.status !== "erred" && dts.status !== "memory" && dts.status !== "forgotten") effects.push(recommend(dts, "erred"));
  }
  effects.push(...letGoOfFireAndForget(ts));
  return effects;
}

/** Copy the failure of an erred dependency onto `ts`, unless `ts` already has its own. */
export function inheritFailure(ts: TaskState): void {
  for (const dep of ts.dependencies) {
    if (dep.status === "erred" && dep.exception) {
      ts.exception = dep.exception;
      ts.exceptionBlame = dep.exceptionBlame ?? dep;
      return;
    }
  }
  if (!ts.exception) throw new Error(`task ${ts.key} was sent to erred without an exception or an erred dependency`);
}

export function freeOnWorker(state: SchedulerState, ws: WorkerState, keys: string[], stimulusId: string): Effect[] {
  // A worker that already left gets nothing.
  return state.workers.get(ws.id) === ws ? [toWorker(ws, { op: "free-keys", keys, stimulusId })] : [];
}

/** The task names a function the scheduler never received, so no worker could run it. */
export function functionNeverSent(ts: TaskState, fnHash: string): EncodedError {
  return { name: "SkeinError", code: SKEIN_ERROR_CODES.PROTOCOL, message: `task ${ts.key} uses function ${fnHash}, which the client never sent` };
}

export function dataLost(ts: TaskState): EncodedError {
  return {
    name: "SkeinError",
    code: SKEIN_ERROR_CODES.DATA_LOST,
    message: `the data of ${ts.key} was lost with the worker(s) that held it, and it cannot be recomputed (it was scattered, not computed). Scatter it again.`,
  };
}

// --- fire-and-forget (graphs, issue 5) ---

/** Id of the scheduler's own client that holds fire-and-forget keys until their tasks finish (as in Dask). */
export const FIRE_AND_FORGET = "fire-and-forget";

function isRealClient(client: ClientState): boolean {
  return client.id !== FIRE_AND_FORGET;
}

/** `ts` is done (memory or erred): the fire-and-forget client lets go of it, and it is freed if nobody else needs it. */
function letGoOfFireAndForget(ts: TaskState): Effect[] {
  let holder: ClientState | undefined;
  for (const client of ts.whoWants) if (!isRealClient(client)) holder = client;
  if (!holder) return [];
  unlink(ts, "whoWants", holder);
  holder.wants.delete(ts);
  if (isNeeded(ts)) return [];
  return [recommend(ts, ts.dependents.size === 0 ? "forgotten" : "released")];
}
