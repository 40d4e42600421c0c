import { recommend, type Effect } from "../effects.js";
import { link, type SchedulerState, type TaskState } from "../task-state.js";
import { afterRelease, freeOnWorker, isNeeded, removeReplica, type Decline, type TransitionContext } from "./common.js";

/**
 * Free the result: nobody needs it any more, or every copy is already gone (lost worker). A
 * recommendation to free data that is still needed and still held is declined: recommendations
 * are hints, and a later one may already have made the data needed again.
 */
export function memoryToReleased(state: SchedulerState, ts: TaskState, ctx: TransitionContext): Effect[] | Decline {
  if (isNeeded(ts) && ts.whoHas.size > 0) return { decline: "memory" };
  ts.inline = undefined;
  const effects: Effect[] = [];
  for (const ws of [...ts.whoHas]) {
    effects.push(...freeOnWorker(state, ws, [ts.key], ctx.stimulusId));
    removeReplica(ts, ws);
  }
  // Dependents that counted on this result must wait for it again.
  for (const dts of ts.waiters) {
    if (dts.status === "waiting") link(dts, "waitingOn", ts);
    else if (dts.status === "processing" || dts.status === "queued" || dts.status === "no-worker") effects.push(recommend(dts, "waiting"));
  }
  effects.push(...afterRelease(ts));
  return effects;
}
