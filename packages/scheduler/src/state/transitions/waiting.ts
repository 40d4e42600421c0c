import type { Effect } from "../effects.js";
import type { SchedulerState, TaskState } from "../task-state.js";
import { afterRelease, announceErred, decline, inheritFailure, leaveDependencies, startProcessing, type Decline, type TransitionContext } from "./common.js";

/** All inputs are in memory: send it to a worker (or decline to queued / no-worker). */
export function waitingToProcessing(state: SchedulerState, ts: TaskState, ctx: TransitionContext): Effect[] | Decline {
  // A stale recommendation: an input it counted as in memory was lost since (its worker died in
  // the same event) and it waits for it again. Sending it now would name an input nobody holds.
  if (ts.waitingOn.size > 0) return decline("waiting");
  return startProcessing(state, ts, ctx);
}

/** A root task while every worker is saturated. */
export function waitingToQueued(state: SchedulerState, ts: TaskState): Effect[] {
  state.queued.add(ts);
  return [];
}

/** No current worker may run it (restrictions, or no workers at all). */
export function waitingToNoWorker(state: SchedulerState, ts: TaskState): Effect[] {
  state.noWorker.add(ts);
  return [];
}

export function waitingToReleased(_state: SchedulerState, ts: TaskState): Effect[] {
  return [...leaveDependencies(ts), ...afterRelease(ts)];
}

export function waitingToErred(_state: SchedulerState, ts: TaskState): Effect[] {
  inheritFailure(ts);
  return [...leaveDependencies(ts), ...announceErred(ts)];
}
