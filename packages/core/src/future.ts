/**
 * A Future is a handle on a task's result, which lives on a worker until someone asks for it.
 * It is deliberately not a thenable: `await future` must not quietly fetch data across the network.
 * Use `await future.result()`.
 */
import { inspect } from "node:util";

export type FutureStatus = "pending" | "finished" | "error" | "cancelled";

/** What a Future needs from the client that made it. */
export interface FutureHost {
  readonly id: string;
  statusOf(key: string): FutureStatus;
  resultOf(key: string, timeoutMs: number | undefined): Promise<unknown>;
  exceptionOf(key: string, timeoutMs: number | undefined): Promise<Error | undefined>;
  retain(key: string): void;
  release(key: string): void;
  cancel(keys: readonly string[], force: boolean): Promise<void>;
  /** Run these erred keys again; marks them pending. */
  retry(keys: readonly string[]): void;
  /** Keep these keys running on the cluster until they finish, whoever holds them. */
  fireAndForget(keys: readonly string[]): void;
  /** Resolves when the key is no longer pending; rejects when `signal` aborts. */
  settled(key: string, signal?: AbortSignal): Promise<void>;
}

/** Reads a future's host (set in the class's static block: only the class can see `#host`). */
let hostField: (future: Future) => FutureHost | undefined;

// A future that becomes garbage without release() still frees its result on the cluster.
const finalizer = new FinalizationRegistry<{ host: FutureHost; key: string }>(({ host, key }) => host.release(key));

export class Future<T = unknown> {
  /** The task key: "multiply-3f9c…", or the key you chose. */
  readonly key: string;
  readonly #host: FutureHost;
  #released = false;
  declare readonly __resultType?: T;

  static {
    hostField = (future) => (#host in future ? future.#host : undefined);
  }

  /** @internal Created by a Client; not meant to be constructed by users. */
  constructor(host: FutureHost, key: string) {
    this.key = key;
    this.#host = host;
    host.retain(key);
    finalizer.register(this, { host, key }, this);
  }

  /** "pending", "finished", "error" or "cancelled". */
  get status(): FutureStatus {
    return hostOf(this).statusOf(this.key);
  }

  /** True once the task finished, failed or was cancelled. */
  done(): boolean {
    return this.status !== "pending";
  }

  /**
   * The task's result, fetched from the worker that holds it. Rejects with the task's error
   * (`RemoteTaskError`, with the remote stack), `FutureCancelledError`, or a timeout.
   */
  result(options: { timeout?: number } = {}): Promise<T> {
    this.#checkLive("result");
    return this.#keepAlive(hostOf(this).resultOf(this.key, options.timeout) as Promise<T>);
  }

  /** Waits for the task and returns its error, or undefined when it succeeded. */
  exception(options: { timeout?: number } = {}): Promise<Error | undefined> {
    this.#checkLive("exception");
    return this.#keepAlive(hostOf(this).exceptionOf(this.key, options.timeout));
  }

  /** Cancel the task (for this client; `force` cancels it for every client). */
  cancel(options: { force?: boolean } = {}): Promise<void> {
    return hostOf(this).cancel([this.key], options.force ?? false);
  }

  /**
   * Run the task again if it failed (with its dependencies that failed): the future is pending
   * again, with the task's `retries` budget renewed. Does nothing to a task that did not fail.
   */
  retry(): void {
    this.#checkLive("retry");
    hostOf(this).retry([this.key]);
  }

  /**
   * Drop this handle. When no future and no pending task needs the result any more, the cluster
   * frees it. Garbage-collected futures are released too; this just does it now.
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    finalizer.unregister(this);
    hostOf(this).release(this.key);
  }

  /** True after `release()`. */
  get released(): boolean {
    return this.#released;
  }

  /** `await using f = client.submit(…)` releases the result when the scope ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
  }

  get [Symbol.toStringTag](): string {
    return "Future";
  }

  [inspect.custom](): string {
    return `Future<${this.key}> ${this.#released ? "released" : this.status}`;
  }

  toString(): string {
    return `Future<${this.key}>`;
  }

  /**
   * `await client.submit(f).result()` leaves nothing holding the Future but this call. Without a
   * reference from the pending promise, the garbage collector could reclaim the Future mid-wait and
   * release the very result being waited for.
   */
  #keepAlive<R>(pending: Promise<R>): Promise<R> {
    return pending.finally(() => keepReachable(this));
  }

  #checkLive(what: string): void {
    if (this.#released) throw new TypeError(`cannot get the ${what} of future ${this.key}: it was released`);
  }
}

function keepReachable(_future: Future): void {}

/** @internal The client that made a future. */
export function hostOf(future: Future): FutureHost {
  const host = typeof future === "object" && future !== null ? hostField(future) : undefined;
  if (!host) throw new TypeError("not a Skein future");
  return host;
}

export function isFuture(value: unknown): value is Future {
  return value instanceof Future;
}
