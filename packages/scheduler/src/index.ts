export { startScheduler } from "./server.js";
export type { ConnectedWorker, RetireResult, Scheduler, SchedulerOptions, Workload } from "./server.js";
export type { SchedulerConfig, TaskStatus } from "./state/task-state.js";
export { DEFAULT_SCHEDULER_CONFIG } from "./state/task-state.js";
