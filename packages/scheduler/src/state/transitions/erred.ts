import type { Effect } from "../effects.js";
import type { SchedulerState, TaskState } from "../task-state.js";
import { afterRelease } from "./common.js";
import { forget } from "./released.js";

/** Retry, or the error is no longer of interest. */
export function erredToReleased(_state: SchedulerState, ts: TaskState): Effect[] {
  ts.exception = undefined;
  ts.exceptionBlame = undefined;
  return afterRelease(ts);
}

export function erredToForgotten(state: SchedulerState, ts: TaskState): Effect[] {
  return forget(state, ts);
}
