/** Messages between a worker's main thread and its executor threads (postMessage, not the wire). */
import type { EncodedError, FunctionSpec } from "@skein/serialization";
import type { ModulePolicy } from "./module-policy.js";

/** What an executor thread is started with (its `workerData`). */
export interface ExecutorThreadData {
  modulePolicy: ModulePolicy | undefined;
}

export interface ThreadTask {
  key: string;
  fnHash: string;
  /** Encoded argument array; task references resolve to `deps`. */
  args: Uint8Array;
  /** Encoded inputs, by key. */
  deps: [string, Uint8Array][];
}

export type ThreadRequest =
  | { type: "define"; functions: FunctionSpec[] }
  | { type: "run"; tasks: ThreadTask[] }
  /** Collect garbage now (the worker's memory monitor: results freed, memory above spill or pause). */
  | { type: "collect-garbage" };

export type ThreadResult =
  | { key: string; ok: true; bytes: Uint8Array; typeName: string; durationMs: number }
  | { key: string; ok: false; error: EncodedError; durationMs: number };

export interface ThreadResults {
  type: "results";
  results: ThreadResult[];
  /** The thread finished its batch and is idle. */
  batchDone: boolean;
}
