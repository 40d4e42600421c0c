import { recommend, type Effect } from "../effects.js";
import { unlink, type SchedulerState, type TaskState } from "../task-state.js";
import { addReplica, afterRelease, announceErred, announceMemory, freeOnWorker, leaveDependencies, stopProcessing, type TransitionContext } from "./common.js";

/** The worker it ran on reported the result (event handlers check that it is the right worker). */
export function processingToMemory(_state: SchedulerState, ts: TaskState): Effect[] {
  const ws = stopProcessing(ts);
  if (!ws) throw new Error(`processing task ${ts.key} has no worker`);
  addReplica(ts, ws);
  const effects: Effect[] = [];
  for (const dts of ts.dependents) {
    if (unlink(dts, "waitingOn", ts) && dts.waitingOn.size === 0 && dts.status === "waiting") effects.push(recommend(dts, "processing"));
  }
  effects.push(...leaveDependencies(ts), ...announceMemory(ts));
  return effects;
}

/** The task raised and has no retries left (the exception was recorded by the event handler). */
export function processingToErred(_state: SchedulerState, ts: TaskState): Effect[] {
  stopProcessing(ts);
  return [...leaveDependencies(ts), ...announceErred(ts)];
}

/** Cancelled, no longer wanted, or its worker died: take it back (a live worker is told to drop it). */
export function processingToReleased(state: SchedulerState, ts: TaskState, ctx: TransitionContext): Effect[] {
  const ws = stopProcessing(ts);
  const effects = ws ? freeOnWorker(state, ws, [ts.key], ctx.stimulusId) : [];
  return [...effects, ...leaveDependencies(ts), ...afterRelease(ts)];
}
