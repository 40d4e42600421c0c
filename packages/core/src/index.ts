export { Client, fireAndForget } from "./client.js";
export { Delayed, delayed } from "./delayed.js";
export type { DelayedOptions } from "./delayed.js";
export type { ClientOptions, ClusterLike, ScatterOptions, SchedulerIdentity, TaskSubmitter } from "./client.js";
export { Future, isFuture } from "./future.js";
export type { FutureStatus } from "./future.js";
export type { TaskOptions } from "./task-options.js";
export { fnRef } from "./types.js";
export type { AnyFunction, Computed, FunctionRef, Futurable, FuturableArgs, Gathered, MapIterables } from "./types.js";
export { AsCompleted, asCompleted, wait } from "./wait.js";
export type { AsCompletedOptions, ReturnWhen, WaitOptions, WaitResult } from "./wait.js";
export { futuresOf } from "./structure.js";
export { FutureCancelledError, SkeinTimeoutError } from "./errors.js";
export { createCluster, resolveCluster } from "./create-cluster.js";
export type { CreateClusterOptions, ResolvedCluster } from "./create-cluster.js";
export { Cluster, previewJobScript } from "./cluster/cluster.js";
export type { ClusterJob, ClusterWorker, ScaleRequest, WaitForWorkersOptions } from "./cluster/cluster.js";
export type { WaitProgressOptions, WaitSnapshot } from "./cluster/wait-progress.js";
export { COMMON_OPTION_KEYS, resolveClusterSettings } from "./cluster/cluster-options.js";
export type { ClusterOptions, ClusterSettings, SchedulerJobSettings, SchedulerPlacement } from "./cluster/cluster-options.js";
export { buildJobSpec, buildSchedulerJobSpec, lifetimeFor } from "./cluster/job-spec.js";
export { readSchedulerFile, removeSchedulerFile, waitForSchedulerFile, writeSchedulerFile } from "./cluster/scheduler-file.js";
export type { SchedulerFileContents } from "./cluster/scheduler-file.js";
export { temporaryCertificate } from "./cluster/cluster-tls.js";
export type { TlsSetting } from "./cluster/cluster-tls.js";
export type { ClusterScheduler } from "./cluster/remote-scheduler.js";
export { AdaptivePolicy } from "./cluster/adaptive.js";
export { JobLedger, forgetJobs, isProcessAlive, ledgerDirectory, readLedger, removeClusterFiles } from "./cluster/job-ledger.js";
export type { BackendOrigin, LedgerRecord } from "./cluster/job-ledger.js";
export type { AdaptOptions, Load } from "./cluster/adaptive.js";
export { defaultSchedulerCommand, defaultWorkerCommand } from "./cluster/worker-command.js";
export { BUILTIN_BACKENDS, loadBackendModule } from "./config/backend-loader.js";
export type { BackendContext, BackendModule } from "./config/backend-loader.js";
export { loadConfig, optionsFromEnvironment } from "./config/load-config.js";
export type { LoadConfigOptions, LoadedConfig } from "./config/load-config.js";
export type { BackendCapabilities, BackendFactory, ClusterBackend, JobId, JobSpec, JobState, SubmittedArray } from "./cluster/backend.js";
export { asJobId } from "./cluster/backend.js";
export { BatchCommandError, DEFAULT_BATCH_TIMEOUTS, batchJobScript, createBatchBackend, formatCommand, quoteWord, validateBackendOptions, type BatchArrays, type BatchBackendDefinition, type BatchCommands, type BatchJobScriptOptions, type BatchTimeouts, type CommandResult } from "./cluster/batch-backend.js";
export { OutputTail } from "./cluster/output-tail.js";
export {
  KilledWorkerError,
  RemoteTaskError,
  SKEIN_ERROR_CODES,
  SkeinError,
  formatBytes,
  formatWalltime,
  isSkeinError,
  parseBytes,
  parseWalltime,
} from "@skein/serialization";
export type { EncodedError, FunctionReference, SkeinErrorCode } from "@skein/serialization";

/** Type helper for skein.config.ts: `export default defineConfig({ backend: "pbs", … })`. */
export function defineConfig<T extends import("./create-cluster.js").CreateClusterOptions>(config: T): T {
  return config;
}
export { progress } from "./progress.js";
export type { GroupProgress, ProgressOptions, ProgressSummary } from "./progress.js";

export { performanceReport } from "./performance-report.js";
