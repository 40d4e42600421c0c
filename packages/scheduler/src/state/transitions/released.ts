import { recommend, type Effect } from "../effects.js";
import { link, unlink, type SchedulerState, type TaskState } from "../task-state.js";
import {
  addReplica,
  announceErred,
  announceMemory,
  dataLost,
  decline,
  functionNeverSent,
  inheritFailure,
  isNeeded,
  type Decline,
  type TransitionContext,
} from "./common.js";

/** Someone needs the result: wait for the dependencies, or run now if they are all in memory. */
export function releasedToWaiting(state: SchedulerState, ts: TaskState): Effect[] | Decline {
  // A stale recommendation: the task stopped being needed later in the same event (the dependent
  // that would read it failed or was released meanwhile). Waiting now computes a result nobody
  // reads, which then stays in memory, erred or no-worker for good.
  if (!isNeeded(ts)) return decline(ts.dependents.size === 0 ? "forgotten" : "released");
  if (!ts.run) {
    ts.exception = dataLost(ts);
    ts.exceptionBlame = ts;
    return decline("erred");
  }
  // Failed on arrival (unknown dependency or function, see graphUpdated) and not erred yet,
  // because a dependent's recommendation to wait overtook the one to err: it must not run.
  if (ts.exception) return decline("erred");
  // Failed on arrival for want of its function, then released (erred->released forgets why) and
  // needed again: fail it again, where startProcessing would throw and take the scheduler down.
  if (!state.functions.has(ts.run.fnHash)) {
    ts.exception = functionNeverSent(ts, ts.run.fnHash);
    ts.exceptionBlame = ts;
    return decline("erred");
  }
  for (const dep of ts.dependencies) {
    if (dep.status === "erred") return decline("erred");
  }
  const effects: Effect[] = [];
  for (const dep of ts.dependencies) {
    link(dep, "waiters", ts);
    if (dep.status === "memory") continue;
    link(ts, "waitingOn", dep);
    if (dep.status === "released") effects.push(recommend(dep, "waiting"));
  }
  if (ts.waitingOn.size === 0) effects.push(recommend(ts, "processing"));
  return effects;
}

/** Scattered data arrived on a worker. */
export function releasedToMemory(_state: SchedulerState, ts: TaskState, ctx: TransitionContext): Effect[] {
  if (!ctx.worker) throw new Error(`released->memory for ${ts.key} needs the worker that holds the data`);
  addReplica(ts, ctx.worker);
  const effects = announceMemory(ts);
  for (const dts of ts.waiters) {
    if (unlink(dts, "waitingOn", ts) && dts.waitingOn.size === 0 && dts.status === "waiting") effects.push(recommend(dts, "processing"));
  }
  return effects;
}

/** A dependency failed, or scattered data was lost. */
export function releasedToErred(_state: SchedulerState, ts: TaskState): Effect[] {
  inheritFailure(ts);
  return announceErred(ts);
}

/** Nobody needs it and nothing depends on it: drop it from the graph. */
export function releasedToForgotten(state: SchedulerState, ts: TaskState): Effect[] {
  return forget(state, ts);
}

export function forget(state: SchedulerState, ts: TaskState): Effect[] {
  if (ts.whoWants.size > 0 || ts.dependents.size > 0) {
    throw new Error(`cannot forget ${ts.key}: it is still wanted or depended on`);
  }
  state.tasks.delete(ts.key);
  const effects: Effect[] = [];
  for (const dep of ts.dependencies) {
    unlink(dep, "dependents", ts);
    unlink(dep, "waiters", ts);
    if ((dep.status === "released" || dep.status === "erred") && dep.whoWants.size === 0 && dep.dependents.size === 0) {
      effects.push(recommend(dep, "forgotten"));
    }
  }
  return effects;
}
