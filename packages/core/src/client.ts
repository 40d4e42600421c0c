/**
 * The user's handle on a cluster: submit work, get futures, gather results. Calls made in one
 * event-loop turn travel as one message; results are fetched straight from the workers that hold them.
 */
import { createHash, randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import {
  SKEIN_ERROR_CODES,
  SkeinError,
  decodeError,
  decodeValue,
  encodeValue,
  type FunctionReference,
  type FunctionSpec,
  type Message,
  type SchedulerToClient,
  type TaskSpec,
  type WorkerInfo,
} from "@skein/serialization";
import type { MessageChannel } from "@skein/scheduler";
import { PeerPool, connect, log, secretFromEnvironment, tlsFromEnvironment, type TlsOptions } from "@skein/transport";
import { FutureCancelledError, SkeinTimeoutError, badOption, closedError } from "./errors.js";
import { Future, hostOf, type FutureHost, type FutureStatus } from "./future.js";
import { inProcessSchedulerOf } from "./in-process.js";
import { KeyStates, type KeyState } from "./key-states.js";
import { futuresOf, replaceFutures } from "./structure.js";
import { buildTaskWithInputs, specOf } from "./task-builder.js";
import { validateTaskOptions, type TaskOptions } from "./task-options.js";
import type { AnyFunction, Computed, FunctionRef, FuturableArgs, Gathered, MapIterables } from "./types.js";
import { Delayed, delayedIn, planGraph, replaceDelayed } from "./delayed.js";
import { AsCompleted, waitFor, type AsCompletedOptions, type WaitOptions, type WaitResult } from "./wait.js";

/** Anything with a scheduler address and its secret: a `Cluster`, or your own. */
export interface ClusterLike {
  readonly schedulerAddress: string;
  readonly secret: string;
  /** The cluster's TLS material, when it uses `wss://`. */
  readonly tls?: TlsOptions | undefined;
}

export interface ClientOptions {
  /** The cluster secret. @default SKEIN_SECRET or the file in SKEIN_SECRET_FILE */
  secret?: string;
  /** Give up connecting after this many milliseconds. @default 10000 */
  timeout?: number;
  /** Name shown in the scheduler's logs and dashboard. @default "client-<pid>" */
  name?: string;
  /**
   * Give up on a scheduler that has not answered heartbeats for this many milliseconds (hung, or
   * its host gone without closing the connection): waiting calls then fail. @default 60000
   */
  heartbeatTimeout?: number;
  /**
   * Certificate, key and CA (PEM text) for a `wss://` scheduler.
   * @default the cluster's, or from SKEIN_TLS_FILE / SKEIN_TLS_CERT, SKEIN_TLS_KEY, SKEIN_TLS_CA
   */
  tls?: TlsOptions;
}

export interface ScatterOptions {
  /** Put the data on these workers (names, addresses or hosts). */
  workers?: string | readonly string[];
  /** Put a copy on every worker (or every listed worker). @default false */
  broadcast?: boolean;
  /** Key the data by a hash of its content, so scattering the same value twice shares it. @default true */
  hash?: boolean;
}

export interface SchedulerIdentity {
  schedulerId: string;
  address: string;
  workers: WorkerInfo[];
  /** Number of tasks per state. */
  tasks: Record<string, number>;
  /** The dashboard's link, token included, when the scheduler serves one. */
  dashboard?: string;
}

/** Task submission with a fixed set of per-call options (see `client.with`). */
export interface TaskSubmitter {
  /** Run `fn(...args)` on the cluster. Arguments may be futures, or contain futures at any depth. */
  submit<F extends AnyFunction>(fn: F | FunctionRef<F>, ...args: FuturableArgs<Parameters<F>>): Future<Awaited<ReturnType<F>>>;
  /** A function by reference without a type: `submit({ module, export }, ...args)`. */
  submit<R = unknown>(fn: FunctionReference, ...args: unknown[]): Future<R>;
  /** `fn` over zipped inputs: `map(f, xs, ys)` runs `f(xs[i], ys[i])` for each i. Inputs may be futures. */
  map<F extends AnyFunction>(fn: F | FunctionRef<F>, ...iterables: MapIterables<Parameters<F>>): Future<Awaited<ReturnType<F>>>[];
  map<R = unknown>(fn: FunctionReference, ...iterables: Iterable<unknown>[]): Future<R>[];
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/**
 * The client pings its scheduler and by default gives up on it after a minute without an answer
 * (hung, or its host gone without closing the connection): every waiting call then fails instead
 * of hanging. As long as the scheduler waits for a silent client: either may be busy for seconds.
 */
const SCHEDULER_HEARTBEAT_MS = 5_000;
const SCHEDULER_DEAD_AFTER_MS = 60_000;
/** Fetching a result from holders the scheduler keeps naming, before giving up. */
const MAX_FETCH_ATTEMPTS = 5;
/** Tasks per update-graph frame when a large batch is split (see #sendGraph). */
const GRAPH_FRAME_TASKS = 2_000;

export class Client implements TaskSubmitter, AsyncDisposable {
  readonly id: string;
  readonly schedulerAddress: string;
  readonly #connection: MessageChannel;
  readonly #host: FutureHost;
  readonly #keys = new KeyStates();
  readonly #peers: PeerPool;
  readonly #sentFunctions = new Set<string>();
  #graph: { functions: FunctionSpec[]; tasks: TaskSpec[]; wants: string[] } | undefined;
  readonly #toRelease = new Set<string>();
  #flushScheduled = false;
  readonly #requests = new Map<number, { resolve: (m: SchedulerToClient) => void; reject: (e: Error) => void }>();
  #nextRequestId = 1;
  #workerNames: string[] = [];
  #dashboardLink: string | undefined;
  readonly #workerListeners = new Set<() => void>();
  #closed: Error | undefined;

  private constructor(connection: MessageChannel, address: string, id: string, secret: string, name: string, tls: TlsOptions | undefined) {
    this.#connection = connection;
    this.schedulerAddress = address;
    this.id = id;
    // Workers' data servers speak TLS when the scheduler does.
    this.#peers = new PeerPool(secret, name, "client", undefined, tls);
    this.#host = this.#makeHost();
    connection.onMessages((messages) => {
      for (const message of messages) this.#handle(message as SchedulerToClient);
    });
    connection.onClose((code, reason) => {
      if (this.#closed) return;
      this.#shutDown(new SkeinError("client", SKEIN_ERROR_CODES.CLOSED, `lost the connection to the scheduler at ${address} (${reason || `code ${code}`})`));
    });
  }

  /**
   * Connect to a cluster (`Client.connect(cluster)`) or to a scheduler address
   * (`Client.connect("ws://host:8786")`, with the secret from options, SKEIN_SECRET or SKEIN_SECRET_FILE).
   */
  static async connect(target: ClusterLike | string, options: ClientOptions = {}): Promise<Client> {
    const address = typeof target === "string" ? target : target?.schedulerAddress;
    if (typeof address !== "string") {
      throw badOption("client", `Client.connect needs a cluster or a scheduler address like "ws://127.0.0.1:8786", got ${target === null ? "null" : typeof target}`);
    }
    const secret = options.secret ?? (typeof target === "string" ? secretFromEnvironment() : target.secret);
    if (!secret) {
      throw badOption("client", `no secret for ${address}: pass { secret }, or set SKEIN_SECRET or SKEIN_SECRET_FILE (the file the cluster wrote)`);
    }
    const timeout = options.timeout ?? DEFAULT_CONNECT_TIMEOUT_MS;
    if (!Number.isFinite(timeout) || timeout <= 0) throw badOption("client", `timeout must be a positive number of milliseconds, got ${String(options.timeout)}`);
    const heartbeatTimeout = options.heartbeatTimeout ?? SCHEDULER_DEAD_AFTER_MS;
    if (!Number.isFinite(heartbeatTimeout) || heartbeatTimeout <= 0) {
      throw badOption("client", `heartbeatTimeout must be a positive number of milliseconds, got ${String(options.heartbeatTimeout)}`);
    }
    const name = options.name ?? `client-${process.pid}`;
    const tls = options.tls ?? (typeof target === "string" ? (address.startsWith("wss://") ? tlsFromEnvironment() : undefined) : target.tls);
    // A cluster whose scheduler runs in this process is reached without a socket (and without
    // heartbeats: the scheduler cannot stop answering while this process runs).
    const local = typeof target === "string" ? undefined : inProcessSchedulerOf(target);
    const { connection, id } = local
      ? local.connectClient({ secret, name })
      : await connect(address, {
          role: "client",
          secret,
          name,
          timeoutMs: timeout,
          label: "client",
          retry: true,
          tls,
          heartbeatMs: Math.min(SCHEDULER_HEARTBEAT_MS, heartbeatTimeout),
          deadAfterMs: heartbeatTimeout,
        }).then(({ connection, welcome }) => ({ connection, id: welcome.id }));
    const client = new Client(connection, address, id, secret, name, tls);
    Client.#latest = client;
    const identity = await client.identity();
    client.#workerNames = identity.workers.map((w) => w.name);
    client.#dashboardLink = identity.dashboard;
    return client;
  }

  // --- connecting through a scheduler file (skein scheduler --scheduler-file; scheduler: { inJob: true }) ---

  /**
   * Connect to the scheduler that a scheduler file describes (`skein scheduler --scheduler-file
   * <path>`, or `cluster.schedulerJob.schedulerFile`), waiting up to `timeout` for the file to
   * appear. The secret is `options.secret`, else SKEIN_SECRET / SKEIN_SECRET_FILE, else the secret
   * file the scheduler names in it.
   */
  static async connectSchedulerFile(path: string, options: ClientOptions = {}): Promise<Client> {
    const { schedulerFileTarget } = await import("./cluster/scheduler-file.js");
    const target = await schedulerFileTarget(path, { timeoutMs: options.timeout ?? DEFAULT_CONNECT_TIMEOUT_MS, secret: options.secret, tls: options.tls });
    return Client.connect(target.address, { ...options, secret: target.secret, ...(target.tls ? { tls: target.tls } : {}) });
  }

  // --- end of connecting through a scheduler file ---

  // --- submitting work ---

  /** Run `fn(...args)` on the cluster. Arguments may be futures, or contain futures at any depth. */
  submit<F extends AnyFunction>(fn: F | FunctionRef<F>, ...args: FuturableArgs<Parameters<F>>): Future<Awaited<ReturnType<F>>>;
  /** A function by reference without a type: `submit({ module, export }, ...args)`. */
  submit<R = unknown>(fn: FunctionReference, ...args: unknown[]): Future<R>;
  submit(fn: unknown, ...args: unknown[]): Future {
    return this.#submit(fn, args, {});
  }

  /** `fn` over zipped inputs: `map(f, xs, ys)` runs `f(xs[i], ys[i])` for each i. Inputs may be futures. */
  map<F extends AnyFunction>(fn: F | FunctionRef<F>, ...iterables: MapIterables<Parameters<F>>): Future<Awaited<ReturnType<F>>>[];
  map<R = unknown>(fn: FunctionReference, ...iterables: Iterable<unknown>[]): Future<R>[];
  map(fn: unknown, ...iterables: Iterable<unknown>[]): Future[] {
    return this.#map(fn, iterables, {});
  }

  /**
   * Submit with per-call options, kept apart from the function's own arguments:
   * `client.with({ retries: 2, priority: 10 }).submit(fn, x)`.
   */
  with(options: TaskOptions): TaskSubmitter {
    const checked = validateTaskOptions(options);
    return {
      submit: (fn: unknown, ...args: unknown[]) => this.#submit(fn, args, checked),
      map: (fn: unknown, ...iterables: Iterable<unknown>[]) => this.#map(fn, iterables, checked),
    } as TaskSubmitter;
  }

  #submit(fn: unknown, args: readonly unknown[], options: TaskOptions): Future<never> {
    this.#checkOpen();
    if (Array.isArray(options.key)) throw badOption("client", "option key for submit must be a string; arrays of keys are for map");
    const spec = specOf(fn);
    const { task, inputs } = buildTaskWithInputs(this.#host, spec, args, options, options.key as string | undefined);
    this.#queueDelayedInputs(inputs);
    this.#queue(spec, task);
    return new Future(this.#host, task.key);
  }

  #map(fn: unknown, iterables: readonly Iterable<unknown>[], options: TaskOptions): Future<never>[] {
    this.#checkOpen();
    if (iterables.length === 0) throw badOption("client", "map needs at least one iterable of inputs: client.map(fn, inputs)");
    const columns = iterables.map((it, i) => {
      if (it === null || typeof (it as Iterable<unknown>)?.[Symbol.iterator] !== "function" || typeof it === "string") {
        throw badOption("client", `map input ${i + 1} must be an array or other iterable, got ${it === null ? "null" : typeof it}`);
      }
      return [...it];
    });
    const length = (columns[0] as unknown[]).length;
    if (columns.some((c) => c.length !== length)) {
      throw badOption("client", `map inputs have different lengths (${columns.map((c) => c.length).join(", ")}); they are zipped and must match`);
    }
    const keys = options.key;
    if (Array.isArray(keys) && keys.length !== length) throw badOption("client", `map got ${keys.length} keys for ${length} inputs`);
    const spec = specOf(fn);
    const tasks: TaskSpec[] = [];
    const inputs: object[] = [];
    for (let i = 0; i < length; i++) {
      const args = columns.map((c) => c[i]);
      const key = Array.isArray(keys) ? (keys[i] as string) : typeof keys === "string" ? `${keys}-${i}` : undefined;
      const built = buildTaskWithInputs(this.#host, spec, args, options, key);
      tasks.push(built.task);
      for (const input of built.inputs) inputs.push(input);
    }
    this.#queueDelayedInputs(inputs);
    return tasks.map((task) => {
      this.#queue(spec, task);
      return new Future(this.#host, task.key);
    });
  }

  // --- graphs ---

  /**
   * Compute Delayed values: `x` is a Delayed, or an array, plain object or Map (nested) with Delayed
   * values inside. Every task they need is sent in one message (each key once, dependencies first,
   * depth-first from the outputs); only the outputs are kept. Returns `x` with every Delayed
   * replaced by a Future of its result. Rejects cycles and missing dependencies before sending.
   */
  compute<T>(x: T): Computed<T> {
    return this.#computeGraph(x);
  }

  /**
   * Like `compute`: the results stay on the cluster while you hold the returned futures, ready to
   * be used by later tasks and graphs. Dask returns Delayed values backed by futures here; Skein
   * returns the futures themselves, which delayed calls, submit and gather all accept.
   */
  persist<T>(x: T): Computed<T> {
    return this.#computeGraph(x);
  }

  /** Run erred tasks again (with their erred dependencies); their futures are pending again. */
  retry(futures: Future | Iterable<Future>): void {
    const list = futures instanceof Future ? [futures] : [...futures];
    for (const future of list) this.#checkOwn(future);
    this.#retry(list.map((f) => f.key));
  }

  #computeGraph<T>(x: T): Computed<T> {
    this.#checkOpen();
    const outputs = delayedIn(x);
    for (const { fn, task } of planGraph(outputs, this.#host)) this.#queue(fn, task, false);
    const result = replaceDelayed(x, (d) => new Future(this.#host, d.key));
    for (const key of new Set(outputs.map((d) => d.key))) this.#want(key);
    return result as Computed<T>;
  }

  /** Delayed values among a submitted task's arguments: send their graph along (not wanted by themselves). */
  #queueDelayedInputs(inputs: readonly object[]): void {
    const graph = inputs.filter((i): i is Delayed => i instanceof Delayed);
    if (graph.length === 0) return;
    for (const { fn, task } of planGraph(graph, this.#host)) this.#queue(fn, task, false);
  }

  #retry(keys: readonly string[]): void {
    this.#checkOpen();
    this.#flush();
    // Only failed keys: the scheduler answers each key sent, which must not turn a cancelled or
    // finished future into an error. The futures are pending from now until it answers.
    const erred = [...new Set(keys)].filter((key) => this.#keys.get(key)?.status === "error");
    if (erred.length === 0) return;
    for (const key of erred) this.#keys.update(this.#keys.get(key) as KeyState, { status: "pending", error: undefined });
    this.#connection.send({ op: "retry-keys", keys: erred, stimulusId: `retry-${randomUUID().slice(0, 8)}` });
  }

  #queue(spec: FunctionSpec, task: TaskSpec, wanted = true): void {
    const graph = (this.#graph ??= { functions: [], tasks: [], wants: [] });
    if (!this.#sentFunctions.has(spec.hash)) {
      this.#sentFunctions.add(spec.hash);
      graph.functions.push(spec);
    }
    graph.tasks.push(task);
    if (wanted) graph.wants.push(task.key);
    this.#scheduleFlush();
  }

  /** Hold `key` on the scheduler for this client (sent with the next update-graph). */
  #want(key: string): void {
    (this.#graph ??= { functions: [], tasks: [], wants: [] }).wants.push(key);
    this.#scheduleFlush();
  }

  // --- getting results ---

  /**
   * Results for futures anywhere inside `value` (a future, an array, a plain object or a Map, nested),
   * in the same structure. Rejects with the first task error.
   */
  async gather<T>(value: T): Promise<Gathered<T>> {
    this.#checkOpen();
    if (delayedIn(value).length > 0) throw badOption("client", "gather takes futures, and this value holds Delayed values: compute them first, client.gather(client.compute(x))");
    const futures = futuresOf(value);
    for (const future of futures) this.#checkOwn(future);
    const keys = [...new Set(futures.map((f) => f.key))];
    const states = keys.map((key) => this.#keys.get(key));
    const results = new Map<string, unknown>();
    if (states.every((state) => state !== undefined)) {
      // Wait for all at once (one promise, not one per key); rejects with the first failure.
      await this.#keys.allSettled(states);
    }
    // Small results came with their notices: decoded here, without a promise per key.
    const fetches: Promise<unknown>[] = [];
    for (const key of keys) {
      const state = this.#keys.get(key);
      if (state?.status === "finished" && state.inline) results.set(key, decodeValue(state.inline));
      else fetches.push(this.#result(key, undefined).then((result) => results.set(key, result)));
    }
    if (fetches.length > 0) await Promise.all(fetches);
    return replaceFutures(value, (future) => results.get(future.key)) as Gathered<T>;
  }

  /**
   * Put data on the workers and get futures for it. An array scatters element by element (an array
   * of futures comes back); any other value becomes one future.
   */
  async scatter<T>(data: readonly T[], options?: ScatterOptions): Promise<Future<T>[]>;
  async scatter<T>(data: T, options?: ScatterOptions): Promise<Future<T>>;
  async scatter(data: unknown, options: ScatterOptions = {}): Promise<Future | Future[]> {
    this.#checkOpen();
    const many = Array.isArray(data);
    const values = many ? (data as unknown[]) : [data];
    const hash = options.hash ?? true;
    const items = values.map((value) => {
      const { bytes, refs } = encodeValue(value);
      if (refs.length > 0) throw badOption("client", "scattered data cannot contain futures; gather them first or pass them to submit");
      const key = `scatter-${hash ? createHash("sha256").update(bytes).digest("hex").slice(0, 32) : randomUUID().replaceAll("-", "")}`;
      return { key, data: bytes };
    });
    const workers = options.workers === undefined ? undefined : typeof options.workers === "string" ? [options.workers] : [...options.workers];
    this.#flush();
    const reply = await this.#request((requestId) => ({
      op: "scatter",
      requestId,
      items,
      ...(workers ? { workers } : {}),
      broadcast: options.broadcast ?? false,
      stimulusId: `scatter-${requestId}`,
    }));
    if (reply.op !== "scatter-reply") throw new SkeinError("client", SKEIN_ERROR_CODES.PROTOCOL, `expected scatter-reply, got ${reply.op}`);
    if (reply.error) throw new SkeinError("client", SKEIN_ERROR_CODES.BAD_OPTION, `scatter failed: ${reply.error}`);
    const futures = items.map((item) => {
      const future = new Future(this.#host, item.key);
      const stored = reply.stored.find((s) => s.key === item.key);
      const state = this.#keys.get(item.key) as KeyState;
      if (stored && state.status === "pending") this.#keys.update(state, { status: "finished", whoHas: stored.whoHas, nbytes: stored.nbytes, typeName: "scattered" });
      return future;
    });
    return many ? futures : (futures[0] as Future);
  }

  /** Cancel futures (for this client; `force` cancels them for every client). */
  async cancel(futures: Future | Iterable<Future>, options: { force?: boolean } = {}): Promise<void> {
    const list = futures instanceof Future ? [futures] : [...futures];
    for (const future of list) this.#checkOwn(future);
    await this.#cancel(
      list.map((f) => f.key),
      options.force ?? false,
    );
  }

  /** Wait for futures: all (default), the first to complete, or the first error. */
  wait(futures: Future | Iterable<Future>, options: WaitOptions = {}): Promise<WaitResult> {
    return waitFor(futures, options);
  }

  /** Iterate futures as they complete; more can be added while iterating. */
  asCompleted(futures: Iterable<Future> = [], options: AsCompletedOptions = {}): AsCompleted {
    return new AsCompleted(futures, options);
  }

  /** Resolves once at least `n` workers are connected; rejects after `timeout` ms. */
  async waitForWorkers(n: number, options: { timeout?: number } = {}): Promise<void> {
    this.#checkOpen();
    if (!Number.isInteger(n) || n < 0) throw badOption("client", `waitForWorkers needs a whole number of workers, got ${n}`);
    if (this.#workerNames.length >= n) return;
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (this.#closed) return done(this.#closed);
        if (this.#workerNames.length >= n) done();
      };
      const done = (error?: Error) => {
        this.#workerListeners.delete(check);
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      };
      const timer =
        options.timeout === undefined
          ? undefined
          : setTimeout(() => done(new SkeinTimeoutError("client", `only ${this.#workerNames.length} of ${n} workers connected within ${options.timeout} ms`)), options.timeout);
      this.#workerListeners.add(check);
    });
  }

  /** Names of the connected workers, as last reported by the scheduler. */
  get workers(): readonly string[] {
    return this.#workerNames;
  }

  /**
   * Run `work` and write a standalone HTML report of it to `path`: the task stream per worker, the
   * progress per task group and the workers, as the dashboard shows them, frozen in one file.
   */
  async performanceReport<T>(path: string, work: () => Promise<T>, options: { title?: string } = {}): Promise<T> {
    this.#checkOpen();
    const since = Date.now();
    const result = await work();
    const reply = await this.#request((requestId) => ({ op: "performance-report", requestId, since, title: options.title ?? `Skein performance report: ${path}` }));
    if (reply.op !== "performance-report-reply") throw new SkeinError("client", SKEIN_ERROR_CODES.PROTOCOL, `expected performance-report-reply, got ${reply.op}`);
    if (reply.error !== undefined || reply.html === undefined) throw new SkeinError("client", SKEIN_ERROR_CODES.BAD_OPTION, `no performance report: ${reply.error ?? "the scheduler sent none"}`);
    await writeFile(path, reply.html);
    return result;
  }

  /**
   * The last lines each worker wrote to its log (stderr: warnings, errors, crash reports), by
   * worker name, asked of the workers directly. `workers` narrows it to some names.
   */
  async getWorkerLogs(options: { workers?: readonly string[] } = {}): Promise<Record<string, string[]>> {
    this.#checkOpen();
    const { workers } = await this.identity();
    const wanted = options.workers ? new Set(options.workers) : undefined;
    const chosen = workers.filter((w) => !wanted || wanted.has(w.name));
    const logs: Record<string, string[]> = {};
    await Promise.all(
      chosen.map(async (worker) => {
        try {
          logs[worker.name] = await this.#peers.logs(worker.address);
        } catch (error) {
          logs[worker.name] = [`(could not reach ${worker.address}: ${(error as Error).message})`];
        }
      }),
    );
    return logs;
  }

  /**
   * Retire workers (by name or address): their results move to other workers first, then they
   * close. A worker whose results had nowhere to go stays (`kept`) unless `force` is set, in which
   * case they are recomputed if needed. A cluster that keeps a worker count may start replacements;
   * to shrink it, use `cluster.scale()`.
   */
  async retireWorkers(workers: string | readonly string[], options: { force?: boolean } = {}): Promise<{ retired: string[]; kept: string[] }> {
    this.#checkOpen();
    const list = typeof workers === "string" ? [workers] : [...workers];
    if (list.length === 0 || list.some((w) => typeof w !== "string" || w.length === 0)) {
      throw new SkeinError("client", SKEIN_ERROR_CODES.BAD_OPTION, `retireWorkers needs worker names or addresses (strings), got ${JSON.stringify(workers)}`);
    }
    const reply = await this.#request((requestId) => ({ op: "retire-workers", requestId, workers: list, force: options.force ?? false }));
    if (reply.op !== "retire-workers-reply") throw new SkeinError("client", SKEIN_ERROR_CODES.PROTOCOL, `expected retire-workers-reply, got ${reply.op}`);
    if (reply.error !== undefined) throw new SkeinError("client", SKEIN_ERROR_CODES.BAD_OPTION, reply.error);
    return { retired: reply.retired, kept: reply.kept };
  }

  /** The scheduler's view: workers and task counts. */
  async identity(): Promise<SchedulerIdentity> {
    const reply = await this.#request((requestId) => ({ op: "identity", requestId }));
    if (reply.op !== "identity-reply") throw new SkeinError("client", SKEIN_ERROR_CODES.PROTOCOL, `expected identity-reply, got ${reply.op}`);
    return { schedulerId: reply.schedulerId, address: reply.address, workers: reply.workers, tasks: reply.tasks, ...(reply.dashboard ? { dashboard: reply.dashboard } : {}) };
  }

  /** The scheduler's dashboard, token included (as `client.dashboard_link` in Dask); undefined without one. */
  get dashboardLink(): string | undefined {
    return this.#dashboardLink;
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /** The most recently connected client that is still open (for `performanceReport` without a client). */
  static get latest(): Client | undefined {
    return Client.#latest;
  }
  static #latest: Client | undefined;

  /** Disconnect. Results of futures this client held are released on the cluster. */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (Client.#latest === this) Client.#latest = undefined;
    this.#flush();
    this.#shutDown(closedError("client", "the client was closed"));
    this.#connection.close(1000, "client closed");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // --- internal ---

  #makeHost(): FutureHost {
    return {
      id: this.id,
      statusOf: (key) => this.#keys.get(key)?.status ?? ("pending" as FutureStatus),
      resultOf: (key, timeout) => this.#result(key, timeout),
      exceptionOf: (key, timeout) => this.#exception(key, timeout),
      retain: (key) => {
        this.#keys.ensure(key).refs += 1;
        this.#toRelease.delete(key);
      },
      release: (key) => {
        const state = this.#keys.get(key);
        if (!state || state.refs === 0) return;
        state.refs -= 1;
        if (state.refs === 0 && !this.#closed) {
          this.#toRelease.add(key);
          this.#scheduleFlush();
        }
      },
      cancel: (keys, force) => this.#cancel(keys, force),
      retry: (keys) => this.#retry(keys),
      fireAndForget: (keys) => {
        this.#checkOpen();
        this.#flush();
        this.#connection.send({ op: "fire-and-forget", keys: [...keys], stimulusId: `fire-and-forget-${randomUUID().slice(0, 8)}` });
      },
      settled: (key, signal) => this.#keys.settled(this.#keys.ensure(key), signal),
    };
  }

  async #result(key: string, timeoutMs: number | undefined): Promise<unknown> {
    const state = this.#keys.get(key);
    if (!state) throw closedError("client", `future ${key} is no longer held by this client`);
    const signal = timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs);
    let attempts = 0;
    for (;;) {
      if (this.#closed && state.status === "pending") throw this.#closed;
      try {
        await this.#keys.settled(state, signal);
      } catch {
        throw new SkeinTimeoutError("client", `future ${key} did not finish within ${timeoutMs} ms`);
      }
      if (state.status !== "finished") throw state.error as Error;
      if (state.inline) return decodeValue(state.inline);
      const version = state.version;
      const holder = state.whoHas[Math.floor(Math.random() * state.whoHas.length)];
      try {
        if (!holder) throw new Error("no worker holds it");
        const { data } = await this.#peers.fetch(holder, [key]);
        const bytes = data[key];
        if (bytes) return decodeValue(bytes);
        throw new Error(`worker ${holder} no longer has it`);
      } catch (error) {
        if (this.#closed) throw this.#closed;
        if (++attempts >= MAX_FETCH_ATTEMPTS) {
          throw new SkeinError("client", SKEIN_ERROR_CODES.CONNECT_FAILED, `could not fetch the result of ${key} from ${holder ?? "any worker"}: ${(error as Error).message}`, { cause: error });
        }
        log.debug(`client: fetching ${key} from ${holder} failed (${(error as Error).message}); asking the scheduler`);
        if (state.version === version) await this.#refreshWhoHas(state);
      }
    }
  }

  async #exception(key: string, timeoutMs: number | undefined): Promise<Error | undefined> {
    const state = this.#keys.get(key);
    if (!state) throw closedError("client", `future ${key} is no longer held by this client`);
    const signal = timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs);
    try {
      await this.#keys.settled(state, signal);
    } catch {
      throw new SkeinTimeoutError("client", `future ${key} did not finish within ${timeoutMs} ms`);
    }
    return state.status === "finished" ? undefined : state.error;
  }

  /** A fetch failed: ask where the key lives now; if nowhere, wait for it to be recomputed. */
  async #refreshWhoHas(state: KeyState): Promise<void> {
    const version = state.version;
    const reply = await this.#request((requestId) => ({ op: "who-has", requestId, keys: [state.key] }));
    if (reply.op !== "who-has-reply" || state.version !== version) return;
    const whoHas = reply.whoHas[state.key] ?? [];
    this.#keys.update(state, whoHas.length > 0 ? { whoHas } : { status: "pending", whoHas: [], inline: undefined });
  }

  async #cancel(keys: readonly string[], force: boolean): Promise<void> {
    this.#checkOpen();
    this.#flush();
    this.#connection.send({ op: "cancel-keys", keys: [...keys], force, stimulusId: `cancel-${randomUUID().slice(0, 8)}` });
    await Promise.all(keys.map((key) => this.#keys.settled(this.#keys.ensure(key))));
  }

  #handle(message: SchedulerToClient): void {
    switch (message.op) {
      case "key-in-memory": {
        const state = this.#keys.get(message.key);
        if (state) this.#keys.finish(state, message);
        return;
      }
      case "key-erred": {
        const state = this.#keys.get(message.key);
        if (state) this.#keys.update(state, { status: "error", error: decodeError(message.error, "client", message.blame) });
        return;
      }
      case "key-cancelled": {
        const state = this.#keys.get(message.key);
        if (state) this.#keys.update(state, { status: "cancelled", error: new FutureCancelledError(message.key, message.reason) });
        return;
      }
      case "workers-changed":
        this.#workerNames = message.names;
        for (const listener of [...this.#workerListeners]) listener();
        return;
      case "who-has-reply":
      case "scatter-reply":
      case "performance-report-reply":
      case "retire-workers-reply":
      case "identity-reply": {
        const pending = this.#requests.get(message.requestId);
        this.#requests.delete(message.requestId);
        pending?.resolve(message);
        return;
      }
      case "error":
        log.warn(`client: scheduler reported ${message.code}: ${message.message}`);
        return;
      case "welcome":
        return;
      default:
        log.warn(`client: unexpected message ${(message as { op: string }).op}`);
    }
  }

  #request(build: (requestId: number) => Message): Promise<SchedulerToClient> {
    if (this.#closed) return Promise.reject(this.#closed);
    const requestId = this.#nextRequestId++;
    return new Promise((resolve, reject) => {
      this.#requests.set(requestId, { resolve, reject });
      this.#connection.send(build(requestId));
    });
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#flush());
  }

  /** Send queued tasks first, then releases of keys still unreferenced: that order keeps keys alive that were re-wanted. */
  #flush(): void {
    this.#flushScheduled = false;
    if (this.#closed) return;
    const graph = this.#graph;
    this.#graph = undefined;
    if (graph) this.#sendGraph(graph);
    if (this.#toRelease.size > 0) {
      const keys = [...this.#toRelease].filter((key) => this.#keys.get(key)?.refs === 0);
      this.#toRelease.clear();
      for (const key of keys) this.#keys.delete(key);
      if (keys.length > 0) this.#connection.send({ op: "release-keys", keys, stimulusId: `release-${randomUUID().slice(0, 8)}` });
    }
  }

  /**
   * A large batch of tasks the client holds futures for (a map over 100 000 inputs) travels in
   * frames of GRAPH_FRAME_TASKS, in order: the scheduler decodes, takes in and drops each frame on
   * its own, between its other work, instead of holding every copy of one huge message at once.
   * Only when every task is wanted: the client's futures then keep alive each result that a task in
   * a later frame needs. A graph with intermediate keys (compute) goes whole.
   */
  #sendGraph(graph: { functions: FunctionSpec[]; tasks: TaskSpec[]; wants: string[] }): void {
    const stimulusId = `graph-${randomUUID().slice(0, 8)}`;
    const splittable = graph.tasks.length > GRAPH_FRAME_TASKS && graph.wants.length === graph.tasks.length && graph.tasks.every((task, i) => graph.wants[i] === task.key);
    if (!splittable) {
      this.#connection.send({ op: "update-graph", functions: graph.functions, tasks: graph.tasks, wants: graph.wants, stimulusId });
      return;
    }
    for (let start = 0, frame = 0; start < graph.tasks.length; start += GRAPH_FRAME_TASKS, frame++) {
      const tasks = graph.tasks.slice(start, start + GRAPH_FRAME_TASKS);
      this.#connection.send({ op: "update-graph", functions: frame === 0 ? graph.functions : [], tasks, wants: tasks.map((t) => t.key), stimulusId: `${stimulusId}-${frame}` });
      this.#connection.flush();
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new SkeinError("client", SKEIN_ERROR_CODES.CLOSED, `this client is closed (${stripPrefix(this.#closed.message)}); connect a new one with Client.connect`);
  }

  #checkOwn(future: Future): void {
    if (!(future instanceof Future)) throw badOption("client", `expected a Future, got ${typeof future}`);
    if (hostOf(future) !== this.#host) {
      throw new SkeinError("client", SKEIN_ERROR_CODES.FOREIGN_FUTURE, `future ${future.key} belongs to another client`);
    }
  }

  #shutDown(reason: Error): void {
    this.#closed = reason;
    if (Client.#latest === this) Client.#latest = undefined;
    this.#peers.close();
    for (const pending of this.#requests.values()) pending.reject(reason);
    this.#requests.clear();
    for (const state of this.#keys.values()) {
      if (state.status === "pending") this.#keys.update(state, { status: "error", error: reason });
    }
    for (const listener of [...this.#workerListeners]) listener();
  }
}

/**
 * Let tasks run to completion even when every future for them is dropped or their client
 * disconnects: the scheduler holds them until they finish, then lets their results go. Takes
 * futures, or any structure with futures inside (see `futuresOf`). `client.cancel(f, { force: true })`
 * still stops them.
 */
export function fireAndForget(futures: unknown): void {
  const found = futuresOf(futures);
  if (found.length === 0 && delayedIn(futures).length > 0) {
    throw badOption("client", "fireAndForget takes futures, and this value holds Delayed values: fireAndForget(client.compute(x))");
  }
  const byHost = new Map<FutureHost, string[]>();
  for (const future of found) {
    const host = hostOf(future);
    const keys = byHost.get(host) ?? [];
    byHost.set(host, keys);
    keys.push(future.key);
  }
  for (const [host, keys] of byHost) host.fireAndForget([...new Set(keys)]);
}

function stripPrefix(message: string): string {
  return message.replace(/^\[skein\] \[[^\]]*\] /, "");
}
