import { recommend, type Effect } from "../effects.js";
import type { EventOf } from "../events.js";
import type { SchedulerState } from "../task-state.js";

/**
 * The victim of a steal answered. A stolen task never started there: it goes back through waiting
 * with the thief as its preferred worker. A refused one (already running, or already done) stays.
 */
export function stealResponse(state: SchedulerState, event: EventOf<"steal-response">): Effect[] {
  const ts = state.tasks.get(event.key);
  const victim = state.workers.get(event.workerId);
  if (!ts || !victim) return [];
  const thief = ts.stealTarget;
  ts.stealTarget = undefined;
  if (!event.stolen || ts.processingOn !== victim || ts.status !== "processing") return [];
  if (thief && thief.status === "running" && state.workers.get(thief.id) === thief) ts.preferredWorker = thief;
  return [recommend(ts, "waiting")];
}
