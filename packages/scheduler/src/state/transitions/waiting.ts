import type { Effect } from "../effects.js";
import type { SchedulerState, TaskState } from "../task-state.js";
import { afterRelease, announceErred, inheritFailure, leaveDependencies, startProcessing, type Decline, type TransitionContext } from "./common.js";

/** All inputs are in memory: send it to a worker (or decline to queued / no-worker). */
export function waitingToProcessing(state: SchedulerState, ts: TaskState, ctx: TransitionContext): Effect[] | Decline {
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
