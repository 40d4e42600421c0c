/** Waiting on many futures: `wait` (all / first completed / first error) and `asCompleted`. */
import { setMaxListeners } from "node:events";
import { badOption, SkeinTimeoutError } from "./errors.js";
import { Future, hostOf } from "./future.js";

export type ReturnWhen = "ALL_COMPLETED" | "FIRST_COMPLETED" | "FIRST_EXCEPTION";

export interface WaitOptions {
  /** @default "ALL_COMPLETED" */
  returnWhen?: ReturnWhen;
  /** Reject with a SkeinTimeoutError after this many milliseconds. */
  timeout?: number;
}

export interface WaitResult {
  done: Set<Future>;
  notDone: Set<Future>;
}

/** Wait for futures; never throws a task's error (look at `done`), only timeouts. */
export async function waitFor(futures: Future | Iterable<Future>, options: WaitOptions = {}): Promise<WaitResult> {
  const list = futures instanceof Future ? [futures] : [...futures];
  for (const f of list) if (!(f instanceof Future)) throw badOption("client", `wait expects futures, got ${typeof f}`);
  const returnWhen = options.returnWhen ?? "ALL_COMPLETED";
  if (!["ALL_COMPLETED", "FIRST_COMPLETED", "FIRST_EXCEPTION"].includes(returnWhen)) {
    throw badOption("client", `returnWhen must be "ALL_COMPLETED", "FIRST_COMPLETED" or "FIRST_EXCEPTION", got ${JSON.stringify(returnWhen)}`);
  }
  // Counted as futures settle, so waiting on n futures costs O(n), not O(n²).
  let done = 0;
  let erred = false;
  const pending: Future[] = [];
  for (const f of list) {
    if (f.done()) {
      done++;
      erred ||= f.status === "error";
    } else pending.push(f);
  }
  const satisfied = () => {
    if (returnWhen === "FIRST_COMPLETED") return done > 0 || list.length === 0;
    if (returnWhen === "FIRST_EXCEPTION" && erred) return true;
    return done === list.length;
  };
  const controller = new AbortController();
  // One listener per pending future on this signal is expected, not a leak.
  setMaxListeners(0, controller.signal);
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      if (satisfied()) return resolve();
      if (options.timeout !== undefined) {
        timer = setTimeout(() => {
          reject(new SkeinTimeoutError("client", `wait: ${done} of ${list.length} futures done after ${options.timeout} ms`));
        }, options.timeout);
      }
      for (const future of pending) {
        hostOf(future)
          .settled(future.key, controller.signal)
          .then(
            () => {
              done++;
              erred ||= future.status === "error";
              if (satisfied()) resolve();
            },
            () => undefined,
          );
      }
    });
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  const finished = new Set(list.filter((f) => f.done()));
  return { done: finished, notDone: new Set(list.filter((f) => !finished.has(f))) };
}

export interface AsCompletedOptions {
  /** Yield `[future, result]` pairs instead of futures. @default false */
  withResults?: boolean;
  /** With `withResults`: throw a task's error from the iterator (true) or yield `[future, error]` (false). @default true */
  raiseErrors?: boolean;
}

/**
 * Futures in the order they complete. `add()` more while iterating; iteration ends when every
 * added future has been yielded.
 */
export class AsCompleted implements AsyncIterableIterator<Future | [Future, unknown]> {
  #pending = new Set<Future>();
  #ready: Future[] = [];
  #wake: (() => void) | undefined;
  readonly #options: AsCompletedOptions;

  constructor(futures: Iterable<Future> = [], options: AsCompletedOptions = {}) {
    this.#options = options;
    for (const f of futures) this.add(f);
  }

  add(future: Future): void {
    if (!(future instanceof Future)) throw badOption("client", `asCompleted.add expects a future, got ${typeof future}`);
    this.#pending.add(future);
    hostOf(future)
      .settled(future.key)
      .then(
        () => {
          if (!this.#pending.delete(future)) return;
          this.#ready.push(future);
          this.#wake?.();
        },
        () => undefined,
      );
  }

  update(futures: Iterable<Future>): void {
    for (const f of futures) this.add(f);
  }

  /** Futures added and not yet yielded. */
  count(): number {
    return this.#pending.size + this.#ready.length;
  }

  isEmpty(): boolean {
    return this.count() === 0;
  }

  async next(): Promise<IteratorResult<Future | [Future, unknown]>> {
    while (this.#ready.length === 0) {
      if (this.#pending.size === 0) return { done: true, value: undefined };
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
    const future = this.#ready.shift() as Future;
    if (!this.#options.withResults) return { done: false, value: future };
    if (future.status === "finished") return { done: false, value: [future, await future.result()] };
    const error = await future.exception();
    if (this.#options.raiseErrors ?? true) throw error;
    return { done: false, value: [future, error] };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** Wait for futures; see `Client.wait`. */
export const wait = waitFor;

/** Iterate futures as they complete; see `Client.asCompleted`. */
export function asCompleted(futures: Iterable<Future> = [], options: AsCompletedOptions = {}): AsCompleted {
  return new AsCompleted(futures, options);
}
