/** The scheduler's view of the cluster, as clients see it (`client.identity()`, the dashboard). */
import type { WorkerInfo } from "@skein/serialization";
import { estimateDuration, occupancyOf } from "./placement.js";
import type { SchedulerState } from "./state/task-state.js";

export function describeState(state: SchedulerState, schedulerId: string, address: string): { schedulerId: string; address: string; workers: WorkerInfo[]; tasks: Record<string, number> } {
  const workers: WorkerInfo[] = [...state.workers.values()].map((ws) => ({
    id: ws.id,
    name: ws.name,
    address: ws.address,
    nthreads: ws.nthreads,
    memoryLimit: ws.memoryLimit,
    host: ws.host,
    pid: ws.pid,
    status: ws.status,
    processing: ws.processing.size,
    inMemory: ws.hasWhat.size,
    nbytes: ws.nbytes,
    resources: { ...ws.resources },
  }));
  const tasks: Record<string, number> = {};
  for (const ts of state.tasks.values()) tasks[ts.status] = (tasks[ts.status] ?? 0) + 1;
  return { schedulerId, address, workers, tasks };
}

/** Pending work, for adaptive scaling: counts and estimated seconds, without walking every task. */
export function measureWorkload(state: SchedulerState) {
  let pendingTasks = state.queued.size + state.noWorker.size;
  let estimatedSeconds = 0;
  const idleWorkers: string[] = [];
  const bytesByWorker = new Map<string, number>();
  for (const ws of state.workers.values()) {
    pendingTasks += ws.processing.size;
    estimatedSeconds += occupancyOf(state, ws);
    bytesByWorker.set(ws.name, ws.nbytes);
    if (ws.status === "running" && ws.processing.size === 0) idleWorkers.push(ws.name);
  }
  for (const ts of state.queued) estimatedSeconds += estimateDuration(state, ts);
  for (const ts of state.noWorker) estimatedSeconds += estimateDuration(state, ts);
  return { pendingTasks, estimatedSeconds, idleWorkers, bytesByWorker, holdsWantedResults: holdsWantedResults(state) };
}

/** Some client holds a future whose result sits on a worker: a cluster must keep at least one. */
function holdsWantedResults(state: SchedulerState): boolean {
  for (const client of state.clients.values()) for (const ts of client.wants) if (ts.status === "memory") return true;
  return false;
}
