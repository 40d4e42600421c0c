/**
 * The wire protocol: one schema per message, discriminated on `op`, grouped by direction. The
 * schemas are the single source of truth: the TypeScript types are inferred from them and
 * `parseMessage` checks every incoming message against them.
 *
 * Spelling rule: ops are kebab-case, one spelling everywhere.
 */
import * as v from "valibot";

/** 2: the per-task messages travel compact (./compact.ts). */
export const PROTOCOL_VERSION = 2;

const key = v.pipe(v.string(), v.minLength(1), v.maxLength(1024));
const keys = v.array(key);
const count = v.pipe(v.number(), v.integer(), v.minValue(0));
const finite = v.pipe(v.number(), v.finite());
const bytes = v.custom<Uint8Array>((value) => value instanceof Uint8Array, "expected a byte string");
const requestId = v.pipe(v.number(), v.integer());
const stimulusId = v.string();
const address = v.pipe(v.string(), v.maxLength(2048));

export const EncodedErrorSchema: v.GenericSchema<EncodedErrorShape> = v.object({
  name: v.string(),
  message: v.string(),
  stack: v.optional(v.string()),
  code: v.optional(v.string()),
  props: v.optional(v.record(v.string(), v.nullable(v.union([v.string(), v.number(), v.boolean()])))),
  cause: v.optional(v.lazy(() => EncodedErrorSchema)),
});
interface EncodedErrorShape {
  name: string;
  message: string;
  stack?: string | undefined;
  code?: string | undefined;
  props?: Record<string, string | number | boolean | null> | undefined;
  cause?: EncodedErrorShape | undefined;
}

export const FunctionSpecSchema = v.variant("kind", [
  v.object({ kind: v.literal("source"), hash: v.string(), name: v.string(), source: v.string() }),
  v.object({ kind: v.literal("module"), hash: v.string(), name: v.string(), module: v.string(), export: v.string() }),
]);

// --- every connection ---

/** First message on every connection; the receiver closes the socket if it fails. */
export const Hello = v.object({
  op: v.literal("hello"),
  role: v.picklist(["client", "worker", "peer"]),
  protocol: v.number(),
  secret: v.string(),
  name: v.string(),
});
/** Reply to a good hello. `id` is the id the receiver gave this connection. */
export const Welcome = v.object({ op: v.literal("welcome"), id: v.string(), schedulerId: v.optional(v.string()) });
/** Any side → peer: a message could not be handled. Never silently dropped. */
export const ErrorReply = v.object({
  op: v.literal("error"),
  code: v.string(),
  message: v.string(),
  inReplyTo: v.optional(v.string()),
});

// --- client → scheduler ---

/** One task as the client describes it. Arguments are opaque bytes the scheduler never decodes. */
export const TaskSpecSchema = v.object({
  key,
  fnHash: v.string(),
  args: bytes,
  /** Keys this task's arguments reference. */
  deps: keys,
  priority: finite,
  retries: count,
  workers: v.optional(v.array(v.string())),
  allowOtherWorkers: v.optional(v.boolean()),
  resources: v.optional(v.record(v.string(), finite)),
});
/** New tasks (and the functions they use), plus the keys this client now holds futures for. */
export const UpdateGraph = v.object({
  op: v.literal("update-graph"),
  functions: v.array(FunctionSpecSchema),
  tasks: v.array(TaskSpecSchema),
  wants: keys,
  stimulusId,
});
/** The client dropped its last future for these keys. */
export const ReleaseKeys = v.object({ op: v.literal("release-keys"), keys, stimulusId });
/** Cancel keys for this client (or for everyone with `force`), and the tasks that depend on them. */
export const CancelKeys = v.object({ op: v.literal("cancel-keys"), keys, force: v.boolean(), stimulusId });
/** Run these tasks to completion even if every client drops them or disconnects (`fireAndForget`). */
export const FireAndForget = v.object({ op: v.literal("fire-and-forget"), keys, stimulusId });
/** Run these erred tasks again, with their erred dependencies (`future.retry()`). */
export const RetryKeys = v.object({ op: v.literal("retry-keys"), keys, stimulusId });
/** Put data on workers. */
export const Scatter = v.object({
  op: v.literal("scatter"),
  requestId,
  items: v.array(v.object({ key, data: bytes })),
  workers: v.optional(v.array(v.string())),
  broadcast: v.boolean(),
  stimulusId,
});
/** Ask where keys live (after a fetch from a worker failed). */
export const WhoHas = v.object({ op: v.literal("who-has"), requestId, keys });
/** Ask for the scheduler's view of the cluster. */
export const Identity = v.object({ op: v.literal("identity"), requestId });
/** Ask for a standalone HTML report of the work since `since` (epoch ms). */
export const PerformanceReport = v.object({ op: v.literal("performance-report"), requestId, since: finite, title: v.string() });

// --- scheduler → client ---

export const KeyInMemory = v.object({
  op: v.literal("key-in-memory"),
  key,
  nbytes: count,
  typeName: v.string(),
  whoHas: v.array(address),
  /** The encoded result, when it is small: nothing to fetch. */
  data: v.optional(bytes),
});
/** A wanted key failed. `blame` is the key whose task raised (the key itself, or a dependency). */
export const KeyErred = v.object({ op: v.literal("key-erred"), key, blame: key, error: EncodedErrorSchema });
export const KeyCancelled = v.object({ op: v.literal("key-cancelled"), key, reason: v.string() });
export const WhoHasReply = v.object({
  op: v.literal("who-has-reply"),
  requestId,
  whoHas: v.record(v.string(), v.array(address)),
});
export const ScatterReply = v.object({
  op: v.literal("scatter-reply"),
  requestId,
  stored: v.array(v.object({ key, nbytes: count, whoHas: v.array(address) })),
  error: v.optional(v.string()),
});
export const WorkerInfoSchema = v.object({
  id: v.string(),
  name: v.string(),
  address,
  nthreads: count,
  memoryLimit: count,
  host: v.string(),
  pid: count,
  status: v.string(),
  processing: count,
  inMemory: count,
  nbytes: count,
  resources: v.record(v.string(), finite),
});
export const IdentityReply = v.object({
  op: v.literal("identity-reply"),
  requestId,
  schedulerId: v.string(),
  address,
  workers: v.array(WorkerInfoSchema),
  tasks: v.record(v.string(), count),
  /** The dashboard's link, token included, when the scheduler serves one. */
  dashboard: v.optional(v.string()),
});
/** Retire these workers (names or addresses): move their results elsewhere, then close them. */
export const RetireWorkers = v.object({ op: v.literal("retire-workers"), requestId, workers: v.array(v.string()), force: v.boolean() });
export const RetireWorkersReply = v.object({
  op: v.literal("retire-workers-reply"),
  requestId,
  /** Names of the workers that left. */
  retired: v.array(v.string()),
  /** Names of the workers that stayed: results only they held had nowhere to go. */
  kept: v.array(v.string()),
  error: v.optional(v.string()),
});
export const PerformanceReportReply = v.object({ op: v.literal("performance-report-reply"), requestId, html: v.optional(v.string()), error: v.optional(v.string()) });
/** Broadcast when workers join or leave, so clients can wait for a number of workers. */
export const WorkersChanged = v.object({ op: v.literal("workers-changed"), count, names: v.array(v.string()) });

// --- scheduler → worker ---

export const DefineFunctions = v.object({ op: v.literal("define-functions"), functions: v.array(FunctionSpecSchema) });
export const DependencySchema = v.object({ key, nbytes: count, whoHas: v.array(address) });
export const ComputeTask = v.object({
  op: v.literal("compute-task"),
  key,
  fnHash: v.string(),
  args: bytes,
  deps: v.array(DependencySchema),
  priority: v.array(finite),
  /** Abstract resources the task holds while it runs; the worker runs it only when they are free. */
  resources: v.optional(v.record(v.string(), finite)),
  stimulusId,
});
/** Give this task back if it has not started (work stealing); answered with steal-response. */
export const StealRequest = v.object({ op: v.literal("steal-request"), key, stimulusId });
/** Forget these keys: drop their data, or drop the task if it has not run yet. */
export const FreeKeys = v.object({ op: v.literal("free-keys"), keys, stimulusId });
export const PutData = v.object({ op: v.literal("put-data"), requestId, key, data: bytes, stimulusId });
/** Leave the cluster: finish nothing more, exit. */
export const CloseWorker = v.object({ op: v.literal("close-worker"), reason: v.string() });
/** Fetch copies of these keys from their holders (a retiring worker's data moving elsewhere). */
export const AcquireReplicas = v.object({ op: v.literal("acquire-replicas"), keys: v.array(DependencySchema), stimulusId });

// --- worker → scheduler ---

export const RegisterWorker = v.object({
  op: v.literal("register-worker"),
  name: v.string(),
  address,
  nthreads: v.pipe(v.number(), v.integer(), v.minValue(1)),
  memoryLimit: count,
  host: v.string(),
  pid: count,
  resources: v.record(v.string(), finite),
  /** The worker's knowledge from an earlier connection (data it still holds). */
  holding: v.array(v.object({ key, nbytes: count })),
});
/** A task finished and its result now lives on this worker. */
export const TaskFinished = v.object({
  op: v.literal("task-finished"),
  key,
  nbytes: count,
  typeName: v.string(),
  durationMs: finite,
  /** The encoded result itself when it is small (≤ 1 KiB), so a client that wants it needs no fetch. */
  data: v.optional(bytes),
  stimulusId,
});
export const TaskErred = v.object({
  op: v.literal("task-erred"),
  key,
  error: EncodedErrorSchema,
  durationMs: finite,
  stimulusId,
});
/** This worker now also holds copies of these keys (fetched from peers). */
export const KeysAdded = v.object({ op: v.literal("keys-added"), keys: v.array(v.object({ key, nbytes: count })), stimulusId });
/** A peer did not have a dependency the scheduler said it had. */
export const MissingData = v.object({ op: v.literal("missing-data"), key, dep: key, from: address, stimulusId });
/** Answer to steal-request: `stolen` when the task was dropped before it started. */
export const StealResponse = v.object({ op: v.literal("steal-response"), key, stolen: v.boolean(), stimulusId });
/** Please retire me: move my data elsewhere, then send close-worker (walltime ahead, SIGTERM). */
export const RequestRetire = v.object({ op: v.literal("request-retire"), reason: v.string(), stimulusId });
export const DataStored = v.object({ op: v.literal("data-stored"), requestId, key, nbytes: count, stimulusId });
export const Heartbeat = v.object({
  op: v.literal("heartbeat"),
  executing: count,
  ready: count,
  inMemory: count,
  nbytes: count,
  rss: count,
});
/**
 * The worker's memory state changed: "paused" when its process memory went above the pause
 * threshold (it starts no new tasks and should be sent none; it still serves its data), "running"
 * when it came back below. Sent again with every heartbeat while paused.
 */
export const WorkerStatusChange = v.object({ op: v.literal("worker-status"), status: v.picklist(["running", "paused"]), stimulusId });

// --- peer (worker data server) ---

export const GetData = v.object({ op: v.literal("get-data"), requestId, keys });
/** Ask a worker for its recent log lines (what it wrote to stderr). */
export const GetLogs = v.object({ op: v.literal("get-logs"), requestId });
export const LogsReply = v.object({ op: v.literal("logs"), requestId, lines: v.array(v.string()) });
export const DataReply = v.object({
  op: v.literal("data"),
  requestId,
  data: v.record(v.string(), bytes),
  missing: keys,
});

export const MESSAGE_SCHEMAS = {
  hello: Hello,
  welcome: Welcome,
  error: ErrorReply,
  "update-graph": UpdateGraph,
  "release-keys": ReleaseKeys,
  "cancel-keys": CancelKeys,
  "fire-and-forget": FireAndForget,
  "retry-keys": RetryKeys,
  scatter: Scatter,
  "who-has": WhoHas,
  identity: Identity,
  "performance-report": PerformanceReport,
  "performance-report-reply": PerformanceReportReply,
  "retire-workers": RetireWorkers,
  "retire-workers-reply": RetireWorkersReply,
  "key-in-memory": KeyInMemory,
  "key-erred": KeyErred,
  "key-cancelled": KeyCancelled,
  "who-has-reply": WhoHasReply,
  "scatter-reply": ScatterReply,
  "identity-reply": IdentityReply,
  "workers-changed": WorkersChanged,
  "define-functions": DefineFunctions,
  "compute-task": ComputeTask,
  "free-keys": FreeKeys,
  "put-data": PutData,
  "close-worker": CloseWorker,
  "acquire-replicas": AcquireReplicas,
  "steal-request": StealRequest,
  "steal-response": StealResponse,
  "request-retire": RequestRetire,
  "register-worker": RegisterWorker,
  "task-finished": TaskFinished,
  "task-erred": TaskErred,
  "keys-added": KeysAdded,
  "missing-data": MissingData,
  "data-stored": DataStored,
  heartbeat: Heartbeat,
  "worker-status": WorkerStatusChange,
  "get-data": GetData,
  "get-logs": GetLogs,
  logs: LogsReply,
  data: DataReply,
} as const;

type Schemas = typeof MESSAGE_SCHEMAS;
export type Op = keyof Schemas;
export type MessageOf<O extends Op> = v.InferOutput<Schemas[O]>;
export type Message = { [O in Op]: MessageOf<O> }[Op];

export type HelloMessage = MessageOf<"hello">;
export type TaskSpec = v.InferOutput<typeof TaskSpecSchema>;
export type WorkerInfo = v.InferOutput<typeof WorkerInfoSchema>;
export type Dependency = v.InferOutput<typeof DependencySchema>;

/** Messages each side may receive. A handler table typed by these fails to compile when an op is missing. */
export type ClientToScheduler =
  | MessageOf<"update-graph">
  | MessageOf<"release-keys">
  | MessageOf<"cancel-keys">
  | MessageOf<"fire-and-forget">
  | MessageOf<"retry-keys">
  | MessageOf<"scatter">
  | MessageOf<"who-has">
  | MessageOf<"identity">
  | MessageOf<"performance-report">
  | MessageOf<"retire-workers">
  | MessageOf<"error">;
export type SchedulerToClient =
  | MessageOf<"welcome">
  | MessageOf<"key-in-memory">
  | MessageOf<"key-erred">
  | MessageOf<"key-cancelled">
  | MessageOf<"who-has-reply">
  | MessageOf<"scatter-reply">
  | MessageOf<"identity-reply">
  | MessageOf<"performance-report-reply">
  | MessageOf<"retire-workers-reply">
  | MessageOf<"workers-changed">
  | MessageOf<"error">;
export type SchedulerToWorker =
  | MessageOf<"welcome">
  | MessageOf<"define-functions">
  | MessageOf<"compute-task">
  | MessageOf<"free-keys">
  | MessageOf<"put-data">
  | MessageOf<"close-worker">
  | MessageOf<"acquire-replicas">
  | MessageOf<"steal-request">
  | MessageOf<"error">;
export type WorkerToScheduler =
  | MessageOf<"register-worker">
  | MessageOf<"task-finished">
  | MessageOf<"task-erred">
  | MessageOf<"keys-added">
  | MessageOf<"missing-data">
  | MessageOf<"data-stored">
  | MessageOf<"heartbeat">
  | MessageOf<"request-retire">
  | MessageOf<"steal-response">
  | MessageOf<"worker-status">
  | MessageOf<"error">;
export type PeerRequest = MessageOf<"get-data"> | MessageOf<"get-logs"> | MessageOf<"error">;
export type PeerReply = MessageOf<"welcome"> | MessageOf<"data"> | MessageOf<"logs"> | MessageOf<"error">;

/** A typed handler table: one entry per op of `M`. */
export type Handlers<M extends { op: string }, Ctx = void> = {
  [O in M["op"]]: (message: Extract<M, { op: O }>, context: Ctx) => void;
};
