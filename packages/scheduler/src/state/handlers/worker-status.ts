/**
 * A worker paused or runs again (its memory monitor, see @skein/worker's README). A paused worker
 * stays a full member of the cluster for its data: it holds and serves its results, copies of them
 * may be fetched from it, and the tasks it was already sent stay with it (they start once it
 * resumes, unless work stealing moves them first). It only gets no new tasks: placement, the root
 * task queue and stealing all take tasks to running workers alone.
 */
import { validWorkers } from "../../placement.js";
import { recommend, type Effect } from "../effects.js";
import type { EventOf } from "../events.js";
import { before } from "../task-queue.js";
import type { SchedulerState } from "../task-state.js";

export function workerStatusChanged(state: SchedulerState, event: EventOf<"worker-status-changed">): Effect[] {
  const ws = state.workers.get(event.workerId);
  // A retiring or closing worker takes no new tasks either way; its status is not the monitor's to change.
  if (!ws || (ws.status !== "running" && ws.status !== "paused") || ws.status === event.status) return [];
  ws.status = event.status;
  if (event.status === "paused") return [];
  // Running again: tasks that had nowhere to go may run here (those restricted to this worker, or
  // all of them when every worker was paused). Queued root tasks follow from the engine once these
  // are placed (fillQueueSlots), as when a worker joins.
  const runnable = [...state.noWorker].filter((ts) => validWorkers(state, ts).includes(ws));
  runnable.sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
  return runnable.map((ts) => recommend(ts, "processing"));
}
