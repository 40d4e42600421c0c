/** The scheduler's view of the cluster, as clients see it (`client.identity()`, the dashboard). */
import type { WorkerInfo } from "@skein/serialization";
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
