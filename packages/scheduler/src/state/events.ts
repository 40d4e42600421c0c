/**
 * Everything that can happen to the scheduler, one interface per stimulus. Wire messages use
 * `op`, events `type`, effects `kind`: a wire message cannot be passed where an event is expected.
 */
import type { EncodedError, FunctionSpec, TaskSpec } from "@skein/serialization";

interface Stimulus {
  readonly stimulusId: string;
}

export interface ClientAdded extends Stimulus { readonly type: "client-added"; readonly clientId: string; readonly name: string }
export interface ClientRemoved extends Stimulus { readonly type: "client-removed"; readonly clientId: string }
export interface GraphUpdated extends Stimulus {
  readonly type: "graph-updated";
  readonly clientId: string;
  readonly functions: readonly FunctionSpec[];
  readonly tasks: readonly TaskSpec[];
  readonly wants: readonly string[];
}
export interface KeysReleased extends Stimulus { readonly type: "keys-released"; readonly clientId: string; readonly keys: readonly string[] }
export interface KeysCancelled extends Stimulus {
  readonly type: "keys-cancelled";
  readonly clientId: string;
  readonly keys: readonly string[];
  readonly force: boolean;
}
/** Hold these keys until their tasks finish, whoever else lets go of them (`fireAndForget`). */
export interface KeysFireAndForget extends Stimulus { readonly type: "keys-fire-and-forget"; readonly clientId: string; readonly keys: readonly string[] }
/** Run these erred keys again, with their erred dependencies (`future.retry()`). */
export interface KeysRetried extends Stimulus { readonly type: "keys-retried"; readonly clientId: string; readonly keys: readonly string[] }
export interface ScatterRequested extends Stimulus {
  readonly type: "scatter-requested";
  readonly clientId: string;
  readonly requestId: number;
  readonly items: readonly { key: string; data: Uint8Array }[];
  readonly workers: readonly string[] | undefined;
  readonly broadcast: boolean;
}

export interface WorkerAdded extends Stimulus {
  readonly type: "worker-added";
  readonly workerId: string;
  readonly name: string;
  readonly address: string;
  readonly nthreads: number;
  readonly memoryLimit: number;
  readonly host: string;
  readonly pid: number;
  readonly resources: Readonly<Record<string, number>>;
}
export interface WorkerRemoved extends Stimulus {
  readonly type: "worker-removed";
  readonly workerId: string;
  /** Why: "connection lost", "closed by the cluster", … */
  readonly reason: string;
  /** The worker left on purpose (scale down, walltime): its running tasks do not count as suspicious. */
  readonly graceful: boolean;
}
/** Retire these workers: no new tasks, copy their unique results elsewhere, then close them. */
export interface WorkersRetiring extends Stimulus {
  readonly type: "workers-retiring";
  readonly workerIds: readonly string[];
  readonly reason: string;
  /**
   * Close them even when results somebody still needs have nowhere to go (they will be recomputed).
   * Without it, such a worker stays: retiring must not lose work (adaptive scaling relies on that).
   */
  readonly force: boolean;
}
/** A worker answered a steal-request: `stolen` when it dropped the task before starting it. */
export interface StealResponse extends Stimulus {
  readonly type: "steal-response";
  readonly workerId: string;
  readonly key: string;
  readonly stolen: boolean;
}
/** The worker paused (process memory above its pause threshold) or runs again (below it). */
export interface WorkerStatusChanged extends Stimulus {
  readonly type: "worker-status-changed";
  readonly workerId: string;
  readonly status: "running" | "paused";
}
export interface TaskFinished extends Stimulus {
  readonly type: "task-finished";
  readonly workerId: string;
  readonly key: string;
  readonly nbytes: number;
  readonly typeName: string;
  readonly durationMs: number;
  /** The encoded result, when small enough to travel with the message. */
  readonly data?: Uint8Array | undefined;
}
export interface TaskErred extends Stimulus {
  readonly type: "task-erred";
  readonly workerId: string;
  readonly key: string;
  readonly error: EncodedError;
  readonly durationMs: number;
}
export interface KeysAdded extends Stimulus {
  readonly type: "keys-added";
  readonly workerId: string;
  readonly keys: readonly { key: string; nbytes: number }[];
}
export interface MissingData extends Stimulus {
  readonly type: "missing-data";
  readonly workerId: string;
  readonly key: string;
  readonly dep: string;
  readonly from: string;
}
export interface DataStored extends Stimulus {
  readonly type: "data-stored";
  readonly workerId: string;
  readonly requestId: number;
  readonly key: string;
  readonly nbytes: number;
}

export type SchedulerEvent =
  | ClientAdded
  | ClientRemoved
  | GraphUpdated
  | KeysReleased
  | KeysCancelled
  | KeysFireAndForget
  | KeysRetried
  | ScatterRequested
  | WorkerAdded
  | WorkerRemoved
  | WorkersRetiring
  | StealResponse
  | WorkerStatusChanged
  | TaskFinished
  | TaskErred
  | KeysAdded
  | MissingData
  | DataStored;

export type EventOf<T extends SchedulerEvent["type"]> = Extract<SchedulerEvent, { type: T }>;
