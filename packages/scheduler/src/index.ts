export { startScheduler } from "./server.js";
export type { ConnectedWorker, RetireResult, Scheduler, SchedulerOptions, Workload } from "./server.js";
export type { SchedulerConfig, TaskStatus } from "./state/task-state.js";
export { DEFAULT_SCHEDULER_CONFIG } from "./state/task-state.js";
export { dashboardToken } from "./dashboard/token.js";
export type { Dashboard, DashboardOptions, JobsProvider, JobsProviderOptions } from "./dashboard/http-server.js";
export type { DashboardJob, DashboardSnapshot, GroupRow, JobRow, SchedulerLoad, WorkerRow } from "./dashboard/snapshot.js";
export type { TaskStreamEvent } from "./dashboard/task-stream.js";
export type { MessageChannel } from "./local-link.js";
