import type { Effect } from "../effects.js";
import type { SchedulerState, TaskState } from "../task-state.js";
import { afterRelease, announceErred, inheritFailure, isDecline, leaveDependencies, startProcessing, type Decline, type TransitionContext } from "./common.js";

/** A worker has room (queued) or a worker that may run it joined (no-worker). */
export function queuedToProcessing(state: SchedulerState, ts: TaskState, ctx: TransitionContext): Effect[] | Decline {
  const result = startProcessing(state, ts, ctx);
  if (!isDecline(result)) state.queued.delete(ts);
  return result;
}

export function queuedToNoWorker(state: SchedulerState, ts: TaskState): Effect[] {
  state.queued.delete(ts);
  state.noWorker.add(ts);
  return [];
}

export function queuedToReleased(state: SchedulerState, ts: TaskState): Effect[] {
  state.queued.delete(ts);
  return [...leaveDependencies(ts), ...afterRelease(ts)];
}

export function queuedToErred(state: SchedulerState, ts: TaskState): Effect[] {
  state.queued.delete(ts);
  inheritFailure(ts);
  return [...leaveDependencies(ts), ...announceErred(ts)];
}

export function noWorkerToProcessing(state: SchedulerState, ts: TaskState, ctx: TransitionContext): Effect[] | Decline {
  const result = startProcessing(state, ts, ctx);
  if (!isDecline(result)) state.noWorker.delete(ts);
  return result;
}

export function noWorkerToQueued(state: SchedulerState, ts: TaskState): Effect[] {
  state.noWorker.delete(ts);
  state.queued.add(ts);
  return [];
}

export function noWorkerToReleased(state: SchedulerState, ts: TaskState): Effect[] {
  state.noWorker.delete(ts);
  return [...leaveDependencies(ts), ...afterRelease(ts)];
}

export function noWorkerToErred(state: SchedulerState, ts: TaskState): Effect[] {
  state.noWorker.delete(ts);
  inheritFailure(ts);
  return [...leaveDependencies(ts), ...announceErred(ts)];
}
