/**
 * One worker process: a connection to the scheduler, a data server for peers and clients, and a
 * pool of executor threads. The main thread only moves bytes and messages; user code and the
 * decoding of user values happen in the threads.
 */
import { hostname } from "node:os";
import { SKEIN_ERROR_CODES, type FunctionSpec, type Message, type MessageOf, type SchedulerToWorker } from "@skein/serialization";
import { ExecutorPool } from "./executor-pool.js";
import { parseModulePolicy } from "./module-policy.js";
import type { ThreadResult } from "./executor-protocol.js";
import { CLOSE_CODES, PeerPool, connect, listenHostFor, log, type Connection, type Listener, type TlsOptions } from "@skein/transport";
import { startDataServer } from "./data-server.js";
import { installLogBuffer, recentLogLines } from "./log-buffer.js";

import { WORKER_EXIT_CODES, type WorkerExit } from "./exit-codes.js";
import type { MemoryThresholds } from "./memory-thresholds.js";
import { createWorkerMemoryManager, openWorkerMemory } from "./worker-memory.js";

export interface WorkerOptions {
  /** `ws://host:port` of the scheduler. */
  schedulerAddress: string;
  /** The cluster secret (from SKEIN_SECRET or SKEIN_SECRET_FILE, never the command line). */
  secret: string;
  /** Unique worker name, shown in errors and the dashboard. */
  name: string;
  /** Executor threads. @default 1 */
  nthreads?: number;
  /** Memory limit in bytes, reported to the scheduler; 0 means none (and no memory management). @default 0 */
  memoryLimit?: number;
  /**
   * Memory thresholds as fractions of `memoryLimit`, each `false` to turn it off (see the README's
   * "Memory" section). @default { target: 0.6, spill: 0.7, pause: 0.8, terminate: 0.95 }
   */
  memory?: Partial<MemoryThresholds>;
  /**
   * Where results are spilled: a `skein-worker-<name>-<pid>` directory is made in it and removed
   * when the worker exits. @default SKEIN_LOCAL_DIRECTORY, else the system's temporary directory
   */
  localDirectory?: string;
  /** Network interface to listen on and advertise, e.g. "ib0". */
  interface?: string;
  /** Address to listen on; overrides `interface`. */
  host?: string;
  /** Abstract resources this worker offers, e.g. { GPU: 1 }. @default {} */
  resources?: Record<string, number>;
  /**
   * Give up when the scheduler cannot be reached for this long (before the first connection).
   * @default 60000
   */
  deathTimeoutMs?: number;
  /** Send load figures to the scheduler this often; the scheduler also pings. @default 2000 */
  heartbeatMs?: number;
  /**
   * Retire after this long (ms): move results elsewhere and leave, e.g. before a batch system's
   * walltime kills the job. Unset: no limit.
   */
  lifetimeMs?: number;
  /** Retire up to this much earlier (ms, random), so the workers of a job do not all leave at once. @default 0 */
  lifetimeStaggerMs?: number;
  /** TLS material: the scheduler is `wss://`, and this worker's data server too. */
  tls?: TlsOptions | undefined;
  /**
   * Run only functions sent by reference from these modules: absolute directories (or `file:` URLs)
   * and package names. Functions sent by value are refused. Unset: any function runs.
   */
  allowedModules?: readonly string[] | undefined;
}

export interface RunningWorker {
  readonly name: string;
  /** This worker's data server, `ws://host:port`. */
  readonly address: string;
  /** Settles when the worker has stopped, with the exit code its process should use. */
  readonly exited: Promise<WorkerExit>;
  /** Leave the cluster on purpose: the scheduler reschedules our tasks without blaming us. */
  close(reason: string): Promise<WorkerExit>;
  /**
   * Leave gracefully: ask the scheduler to copy our unique results elsewhere and then close us.
   * Leaves anyway after `deadlineMs` (a batch system's SIGKILL follows its SIGTERM).
   */
  retire(reason: string, deadlineMs: number): Promise<WorkerExit>;
}

/**
 * fetching: inputs on their way; loading: spilled inputs being read back from disk; ready: in the
 * executor pool (queued or running); cancelled: freed while running in a batch.
 */
type TaskStatus = "fetching" | "loading" | "ready" | "cancelled";

/** Results up to this size travel with task-finished (and on to the clients that want them). */
const INLINE_RESULT_BYTES = 1024;

/** At lifetime's end a worker has this long to hand its results over before it leaves regardless. */
const LIFETIME_RETIRE_DEADLINE_MS = 30_000;

/** A worker that cannot reach the scheduler says so once it has failed for this long (the cluster's preflight reads it). */
const UNREACHABLE_REPORT_AFTER_MS = 1000;

interface WorkerTask {
  readonly key: string;
  readonly fnHash: string;
  readonly args: Uint8Array;
  readonly deps: MessageOf<"compute-task">["deps"];
  readonly priority: readonly number[];
  readonly resources: Readonly<Record<string, number>> | undefined;
  status: TaskStatus;
  /** Inputs not here yet; undefined when all are. */
  missing: Set<string> | undefined;
}

/** Start a worker and connect it to its scheduler. Rejects when the scheduler cannot be reached. */
export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const { name, secret, schedulerAddress } = options;
  const nthreads = options.nthreads ?? 1;
  const deathTimeoutMs = options.deathTimeoutMs ?? 60_000;
  const heartbeatMs = options.heartbeatMs ?? 2000;

  const workerMemory = await openWorkerMemory({ name, limit: options.memoryLimit ?? 0, memory: options.memory, localDirectory: options.localDirectory });
  const { store } = workerMemory;
  const tasks = new Map<string, WorkerTask>();
  const functions = new Map<string, FunctionSpec>();
  const fetching = new Map<string, { holders: string[]; tried: Set<string>; waiting: Set<WorkerTask> }>();
  // Data from peers and the scheduler lands in shared memory: executor threads read it in place.
  const peers = new PeerPool(secret, name, "peer", 10_000, options.tls, { sharedMemory: true });
  let scheduler: Connection | undefined;
  let stopping: Promise<WorkerExit> | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let resolveExited!: (exit: WorkerExit) => void;
  const exited = new Promise<WorkerExit>((resolve) => (resolveExited = resolve));
  let stimulusCounter = 0;
  const stimulus = (what: string) => `${name}-${what}-${++stimulusCounter}`;
  const send = (message: Message) => scheduler?.send(message);

  const storeData = (key: string, bytes: Uint8Array) => {
    store.set(key, ownBytes(bytes));
    memory.afterStore();
  };
  const dropData = (key: string) => {
    store.delete(key);
  };

  const pool = new ExecutorPool({
    nthreads,
    resources: options.resources ?? {},
    modulePolicy: parseModulePolicy(options.allowedModules),
    lookupFunction: (hash) => functions.get(hash),
    onResult: (result) => finish(result),
    onThreadCrash: (keys, error) => {
      for (const key of keys) {
        finish({ key, ok: false, durationMs: 0, error: { name: "ExecutorCrashed", message: `the executor thread running this task died: ${error.message}` } });
      }
    },
  });

  const memory = createWorkerMemoryManager(name, workerMemory, {
    pool,
    setStatus: (status) => send({ op: "worker-status", status, stimulusId: stimulus(status) }),
    resumed: () => {
      if (fetchQueue.size === 0 || fetchFlushScheduled) return;
      fetchFlushScheduled = true;
      setImmediate(flushFetches);
    },
    // Not SHUTDOWN: the scheduler counts this as a death, so a task that always does this ends as KilledWorkerError.
    terminate: (reason) => void stop(WORKER_EXIT_CODES.MEMORY_EXCEEDED, reason, CLOSE_CODES.NORMAL),
  });

  const finish = (result: ThreadResult) => {
    const task = tasks.get(result.key);
    if (!task) return;
    tasks.delete(result.key);
    if (task.status === "cancelled") return;
    if (result.ok) {
      storeData(result.key, result.bytes);
      const message: MessageOf<"task-finished"> = { op: "task-finished", key: result.key, nbytes: result.bytes.byteLength, typeName: result.typeName, durationMs: result.durationMs, stimulusId: stimulus("finished") };
      // Small results ride along: the client that wants one gets it without a round trip here.
      if (result.bytes.byteLength <= INLINE_RESULT_BYTES) message.data = result.bytes;
      send(message);
    } else {
      send({ op: "task-erred", key: result.key, error: result.error, durationMs: result.durationMs, stimulusId: stimulus("erred") });
    }
  };

  const makeReady = (task: WorkerTask) => {
    const deps: [string, Uint8Array][] = [];
    let spilled: string[] | undefined;
    for (const d of task.deps) {
      const bytes = store.peek(d.key);
      if (bytes) deps.push([d.key, bytes]);
      else (spilled ??= []).push(d.key);
    }
    if (!spilled) return submitToPool(task, deps);
    // Inputs spilled to disk are read back first (the files stay: they are still spilled).
    task.status = "loading";
    const keys = spilled;
    void Promise.all(keys.map((key) => store.get(key).catch((error: Error) => (log.warn(`worker ${name}: ${error.message}`), undefined)))).then((loaded) => {
      if (tasks.get(task.key) !== task || task.status !== "loading") return;
      const lost = keys.find((_, i) => !loaded[i]);
      if (lost !== undefined) {
        // Gone from this worker after all: the scheduler corrects its records and places the task again.
        store.delete(lost);
        tasks.delete(task.key);
        send({ op: "missing-data", key: task.key, dep: lost, from: dataServer.address, stimulusId: stimulus("missing") });
        return;
      }
      keys.forEach((key, i) => deps.push([key, loaded[i] as Uint8Array]));
      submitToPool(task, deps);
    });
  };
  const submitToPool = (task: WorkerTask, deps: [string, Uint8Array][]) => {
    task.status = "ready";
    pool.submit({ key: task.key, fnHash: task.fnHash, args: ownBytes(task.args), deps, priority: task.priority, resources: task.resources });
  };

  // --- fetching inputs from peers ---

  let fetchFlushScheduled = false;
  const fetchQueue = new Map<string, Set<string>>();
  /** Fetch an input from its holders; `task` waits for it (none for copies the scheduler asked for). */
  const requestInput = (dep: WorkerTask["deps"][number], task: WorkerTask | undefined) => {
    let entry = fetching.get(dep.key);
    if (!entry) {
      entry = { holders: shuffle([...dep.whoHas]), tried: new Set(), waiting: new Set() };
      fetching.set(dep.key, entry);
      queueFetch(dep.key, entry);
    }
    if (task) entry.waiting.add(task);
  };
  const queueFetch = (key: string, entry: { holders: string[]; tried: Set<string>; waiting: Set<WorkerTask> }) => {
    const holder = entry.holders.find((h) => !entry.tried.has(h));
    if (!holder) {
      inputUnavailable(key, entry);
      return;
    }
    entry.tried.add(holder);
    let keys = fetchQueue.get(holder);
    if (!keys) fetchQueue.set(holder, (keys = new Set()));
    keys.add(key);
    if (!fetchFlushScheduled) {
      fetchFlushScheduled = true;
      setImmediate(flushFetches);
    }
  };
  const flushFetches = () => {
    fetchFlushScheduled = false;
    // Paused for memory: fetch nothing more until resumed (resume flushes).
    if (memory.paused) return;
    const batches = [...fetchQueue];
    fetchQueue.clear();
    for (const [address, keys] of batches) {
      peers.fetch(address, [...keys]).then(
        ({ data, missing }) => {
          const added: { key: string; nbytes: number }[] = [];
          for (const [key, bytes] of Object.entries(data)) {
            const entry = fetching.get(key);
            if (!entry) continue;
            fetching.delete(key);
            storeData(key, bytes);
            added.push({ key, nbytes: bytes.byteLength });
            for (const task of entry.waiting) inputArrived(task, key);
          }
          if (added.length > 0) send({ op: "keys-added", keys: added, stimulusId: stimulus("fetched") });
          for (const key of missing) retryFetch(key, address);
        },
        (error: Error) => {
          log.debug(`worker ${name}: fetch from ${address} failed: ${error.message}`);
          for (const key of keys) retryFetch(key, address);
        },
      );
    }
  };
  const retryFetch = (key: string, from: string) => {
    const entry = fetching.get(key);
    if (!entry) return;
    // Tell the scheduler its record was wrong, so it stops sending others there.
    const first = [...entry.waiting][0];
    if (first) send({ op: "missing-data", key: first.key, dep: key, from, stimulusId: stimulus("missing") });
    if (entry.holders.some((h) => !entry.tried.has(h))) queueFetch(key, entry);
    else inputUnavailable(key, entry);
  };
  const inputUnavailable = (key: string, entry: { waiting: Set<WorkerTask> }) => {
    fetching.delete(key);
    // Give the tasks back: the scheduler recomputes the input and places them again.
    for (const task of entry.waiting) {
      if (task.status !== "fetching") continue;
      tasks.delete(task.key);
      send({ op: "missing-data", key: task.key, dep: key, from: "", stimulusId: stimulus("missing") });
    }
  };
  const inputArrived = (task: WorkerTask, key: string) => {
    if (task.status !== "fetching") return;
    task.missing?.delete(key);
    if (!task.missing || task.missing.size === 0) makeReady(task);
  };

  // --- messages from the scheduler ---

  const handle = (message: SchedulerToWorker) => {
    switch (message.op) {
      case "define-functions":
        for (const spec of message.functions) functions.set(spec.hash, spec);
        return;
      case "compute-task":
        return computeTask(message);
      case "free-keys":
        for (const key of message.keys) freeKey(key);
        return;
      case "put-data":
        storeData(message.key, message.data);
        send({ op: "data-stored", requestId: message.requestId, key: message.key, nbytes: message.data.byteLength, stimulusId: message.stimulusId });
        return;
      case "close-worker":
        void stop(WORKER_EXIT_CODES.CLOSED, `closed by the scheduler: ${message.reason}`);
        return;
      case "steal-request":
        send({ op: "steal-response", key: message.key, stolen: giveBack(message.key), stimulusId: message.stimulusId });
        return;
      case "acquire-replicas":
        // Copies of a retiring worker's results: fetched like inputs, reported with keys-added.
        for (const dep of message.keys) if (!store.has(dep.key)) requestInput(dep, undefined);
        return;
      case "welcome":
        return;
      case "error":
        log.warn(`worker ${name}: scheduler reported ${message.code}: ${message.message}`);
        return;
      default:
        scheduler?.replyError(SKEIN_ERROR_CODES.PROTOCOL, `a worker does not handle "${(message as { op: string }).op}"`);
    }
  };

  const computeTask = (message: MessageOf<"compute-task">) => {
    if (store.has(message.key)) {
      // Computed before (e.g. rescheduled after a hiccup): the result is still here.
      send({ op: "task-finished", key: message.key, nbytes: store.nbytesOf(message.key) ?? 0, typeName: "unknown", durationMs: 0, stimulusId: message.stimulusId });
      return;
    }
    const existing = tasks.get(message.key);
    if (existing && existing.status !== "cancelled") return;
    const task: WorkerTask = {
      key: message.key,
      fnHash: message.fnHash,
      args: message.args,
      deps: message.deps,
      priority: message.priority,
      resources: message.resources,
      status: "fetching",
      missing: undefined,
    };
    for (const d of message.deps) if (!store.has(d.key)) (task.missing ??= new Set()).add(d.key);
    tasks.set(task.key, task);
    const missing = task.missing;
    if (!missing) makeReady(task);
    else for (const dep of task.deps) if (missing.has(dep.key)) requestInput(dep, task);
  };

  /** Work stealing: drop a task that has not started yet, so another worker can run it. */
  const giveBack = (key: string): boolean => {
    const task = tasks.get(key);
    if (!task) return false;
    if (task.status === "loading") {
      tasks.delete(key);
      return true;
    }
    if (task.status === "fetching") {
      tasks.delete(key);
      for (const entry of fetching.values()) entry.waiting.delete(task);
      return true;
    }
    if (task.status === "ready" && pool.dequeue(key)) {
      tasks.delete(key);
      return true;
    }
    return false;
  };

  const freeKey = (key: string) => {
    dropData(key);
    const task = tasks.get(key);
    if (!task) return;
    if (task.status === "ready" && pool.cancel(key)) {
      // Queued or running alone in its thread: gone now, nothing more will be reported.
      tasks.delete(key);
      return;
    }
    if (task.status === "fetching" || task.status === "loading") {
      tasks.delete(key);
      for (const entry of fetching.values()) entry.waiting.delete(task);
      return;
    }
    // A short task inside a batch: let it finish, then drop the result.
    task.status = "cancelled";
  };

  // --- data server: peers and clients fetch results here ---

  const listenHost = options.host ?? (await listenHostFor(schedulerAddress, options.interface));
  installLogBuffer();
  const dataServer: Listener = await startDataServer({ host: listenHost, secret, name, store, logLines: recentLogLines, tls: options.tls });

  // --- shutdown ---

  /** `closeCode` SHUTDOWN tells the scheduler we left on purpose; any other code counts as a death. */
  const stop = (code: number, reason: string, closeCode: number = CLOSE_CODES.SHUTDOWN): Promise<WorkerExit> => {
    if (stopping) return stopping;
    stopping = (async () => {
      log.debug(`worker ${name} stopping: ${reason}`);
      clearInterval(heartbeat);
      memory.stop();
      // Busy threads are terminated, not awaited: a task in an endless loop must not keep a job alive.
      await pool.terminate();
      peers.close();
      if (scheduler && !scheduler.closed) {
        const link = scheduler;
        const closed = new Promise<void>((resolve) => link.onClose(() => resolve()));
        link.close(closeCode, reason);
        // The close frame carries the reason (memory, shutdown) to the scheduler: let it leave before we exit.
        await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, CLOSE_FRAME_WAIT_MS).unref())]);
      }
      await dataServer.close();
      await store.close();
      const exit = { code, reason };
      resolveExited(exit);
      return exit;
    })();
    return stopping;
  };

  // --- connect ---

  const registration: Message = {
    op: "register-worker",
    name,
    address: dataServer.address,
    nthreads,
    memoryLimit: options.memoryLimit ?? 0,
    host: hostname(),
    pid: process.pid,
    resources: options.resources ?? {},
    holding: [],
  };
  const dialingSince = Date.now();
  let reportedUnreachable = false;
  try {
    const connected = await connect(schedulerAddress, {
      role: "worker",
      secret,
      name,
      timeoutMs: deathTimeoutMs,
      label: "scheduler",
      retry: true,
      tls: options.tls,
      sharedMemory: true,
      // A scheduler that stops answering (hung, its node gone without a word) is as lost as one
      // that closed the connection: after the death timeout, leave instead of holding the allocation.
      heartbeatMs,
      deadAfterMs: deathTimeoutMs,
      firstMessages: [registration],
      // Network preflight: say at once, in the job's output, which host and address cannot reach
      // the scheduler (a firewall, the wrong interface), instead of only after the death timeout.
      // Not on the very first failure: a worker still dialling when its cluster closes (a quick
      // computation on a slow machine) is stopped within milliseconds and must not leave a warning.
      onRetry: (error) => {
        if (reportedUnreachable || Date.now() - dialingSince < UNREACHABLE_REPORT_AFTER_MS) return;
        reportedUnreachable = true;
        process.stderr.write(`[skein] ${unreachableScheduler(name, schedulerAddress, listenHost, options.interface)}: ${error.message}; retrying for up to ${Math.round(deathTimeoutMs / 1000)} s\n`);
      },
    });
    scheduler = connected.connection;
  } catch (error) {
    await pool.terminate();
    peers.close();
    await dataServer.close();
    await store.close();
    throw error;
  }
  scheduler.onMessages((messages) => {
    for (const message of messages) handle(message as SchedulerToWorker);
  });
  scheduler.onClose((code, reason) => {
    if (stopping) return;
    // Without its scheduler a worker is useless and would burn the allocation: leave now.
    void stop(WORKER_EXIT_CODES.SCHEDULER_LOST, `lost the scheduler at ${schedulerAddress} (${reason || `code ${code}`})`);
  });
  heartbeat = setInterval(() => {
    send({ op: "heartbeat", executing: pool.executing, ready: pool.queued, inMemory: store.size, nbytes: store.bytes, rss: process.memoryUsage.rss() });
    // Said again while it lasts: a scheduler that un-retired us, or missed the change, learns it here.
    if (memory.paused) send({ op: "worker-status", status: "paused", stimulusId: stimulus("paused") });
  }, heartbeatMs);
  heartbeat.unref();
  log.debug(`worker ${name} connected to ${schedulerAddress}, serving data on ${dataServer.address}`);
  memory.start();

  let retiring: Promise<WorkerExit> | undefined;
  const retire = (reason: string, deadlineMs: number): Promise<WorkerExit> => {
    if (stopping) return stopping;
    if (!retiring) {
      retiring = new Promise<WorkerExit>((resolve) => {
        if (!scheduler || scheduler.closed) return resolve(stop(WORKER_EXIT_CODES.CLOSED, reason));
        log.debug(`worker ${name} retiring: ${reason}`);
        send({ op: "request-retire", reason, stimulusId: stimulus("retire") });
        const deadline = setTimeout(() => resolve(stop(WORKER_EXIT_CODES.CLOSED, `${reason}; the scheduler did not close us within ${deadlineMs} ms`)), deadlineMs);
        deadline.unref();
        void exited.then((exit) => {
          clearTimeout(deadline);
          resolve(exit);
        });
      });
    }
    return retiring;
  };
  if (options.lifetimeMs !== undefined) {
    const stagger = Math.random() * (options.lifetimeStaggerMs ?? 0);
    const lifetime = setTimeout(() => void retire(`lifetime of ${Math.round(options.lifetimeMs! / 1000)} s reached`, LIFETIME_RETIRE_DEADLINE_MS), Math.max(0, options.lifetimeMs - stagger));
    lifetime.unref();
    void exited.then(() => clearTimeout(lifetime));
  }

  return {
    name,
    address: dataServer.address,
    exited,
    close: (reason: string) => stop(WORKER_EXIT_CODES.CLOSED, reason),
    retire,
  };
}

// --- internal ---

/** The preflight line. `Cluster` recognises "cannot reach the scheduler" in job output. */
export function unreachableScheduler(name: string, schedulerAddress: string, listenHost: string, iface: string | undefined): string {
  return `worker ${name} on ${hostname()} (address ${listenHost}${iface ? ` on interface ${iface}` : ""}) cannot reach the scheduler at ${schedulerAddress}`;
}

/** How long a leaving worker waits for the scheduler to acknowledge its close frame. */
const CLOSE_FRAME_WAIT_MS = 1000;

/**
 * `bytes` if it owns its whole buffer, else a copy that does (a view into a frame would keep the
 * frame alive and be cloned whole). Large data arrives owning a buffer of its own, often shared
 * memory, and is kept as it is: executor threads then read it without a copy.
 */
function ownBytes(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.byteLength ? bytes : bytes.slice();
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

