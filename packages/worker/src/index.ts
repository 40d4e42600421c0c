export { startWorker } from "./worker.js";
export type { RunningWorker, WorkerOptions } from "./worker.js";
export { runSupervisor } from "./supervisor.js";
export type { SupervisorOptions } from "./supervisor.js";
export { runWorkerCli, parseResources } from "./worker-cli.js";
export { FINAL_EXIT_CODES, WORKER_EXIT_CODES } from "./exit-codes.js";
export type { WorkerExit } from "./exit-codes.js";
export { DEFAULT_MEMORY_THRESHOLDS } from "./memory-thresholds.js";
export type { MemoryThresholds } from "./memory-thresholds.js";
