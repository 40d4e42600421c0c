/**
 * A fixed pool of executor threads. Ready tasks are handed out in priority order; when tasks are
 * known to be short, several go to a thread in one postMessage (a thread hop costs ~60 µs, more
 * than a trivial task).
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { FunctionSpec } from "@skein/serialization";
import type { ExecutorThreadData, ThreadRequest, ThreadResult, ThreadResults, ThreadTask } from "./executor-protocol.js";
import type { ModulePolicy } from "./module-policy.js";
import { ReadyQueue } from "./ready-queue.js";

/** Batch short tasks until a batch holds about this much estimated work. */
const BATCH_TARGET_MS = 5;
const MAX_BATCH = 256;

export interface PoolTask extends ThreadTask {
  /** Lower runs first. */
  priority: readonly number[];
  /** Abstract resources held while it runs; it starts only when the worker has them free. */
  resources?: Readonly<Record<string, number>> | undefined;
}

interface ThreadSlot {
  thread: Worker;
  busy: boolean;
  knownFunctions: Set<string>;
  /** Running task keys and their function hashes. */
  running: Map<string, string>;
}

export interface ExecutorPoolOptions {
  nthreads: number;
  /** Called for each finished task, in the main thread. */
  onResult: (result: ThreadResult) => void;
  /** A thread died (e.g. out of memory): the tasks it was running are reported here. */
  onThreadCrash: (keys: string[], error: Error) => void;
  lookupFunction: (hash: string) => FunctionSpec | undefined;
  /** Resources this worker offers (`--resources`); tasks that need them wait until they are free. @default {} */
  resources?: Readonly<Record<string, number>>;
  /** Restrict threads to functions by reference from these modules (`--allowed-modules`). */
  modulePolicy?: ModulePolicy | undefined;
}

export class ExecutorPool {
  #slots: ThreadSlot[] = [];
  #ready = new ReadyQueue<PoolTask>();
  #durations = new Map<string, number>();
  #options: ExecutorPoolOptions;
  #terminated = false;
  /** A dispatch is queued for the end of this turn (see submit). */
  #dispatchQueued = false;
  /** Memory above the pause threshold: start nothing until resumed. */
  #paused = false;
  /** Resources not held by a running task. */
  #free: Map<string, number>;
  /** Resources held, by running task key. */
  #held = new Map<string, Readonly<Record<string, number>>>();

  constructor(options: ExecutorPoolOptions) {
    this.#options = options;
    this.#free = new Map(Object.entries(options.resources ?? {}));
    for (let i = 0; i < options.nthreads; i++) this.#slots.push(this.#spawn());
  }

  /** Tasks running right now. */
  get executing(): number {
    return this.#slots.reduce((n, slot) => n + slot.running.size, 0);
  }

  /** Tasks waiting for a free thread. */
  get queued(): number {
    return this.#ready.size;
  }

  /**
   * Queue a task. Threads are handed work once the current turn is done, not per task: a frame of
   * compute-task messages then reaches an idle thread as one batch, where dispatching the first
   * at once would send it alone and leave the rest waiting for that thread's answer.
   */
  submit(task: PoolTask): void {
    this.#ready.push(task);
    if (this.#dispatchQueued) return;
    this.#dispatchQueued = true;
    queueMicrotask(() => {
      this.#dispatchQueued = false;
      this.#dispatch();
    });
  }

  /** Start no more tasks (memory above the pause threshold); running ones go on. */
  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#dispatch();
  }

  /** Ask every thread to collect its garbage (a busy one does so between tasks). */
  collectGarbage(): void {
    for (const slot of this.#slots) slot.thread.postMessage({ type: "collect-garbage" } satisfies ThreadRequest);
  }

  /** Take a task back if it has not started (work stealing). Never stops a running task. */
  dequeue(key: string): boolean {
    return this.#ready.remove(key);
  }

  /**
   * Drop a task. A queued one is simply removed; a running one that has its thread to itself is
   * stopped by replacing the thread (JS cannot interrupt a function from outside). Returns false
   * only for a short task running inside a batch: it finishes, and its result is discarded.
   */
  cancel(key: string): boolean {
    if (this.#ready.remove(key)) return true;
    const slot = this.#slots.find((s) => s.running.has(key));
    if (!slot || slot.running.size > 1) return false;
    this.#retire(slot);
    return true;
  }

  /** Stop every thread now, busy or not: user code cannot delay a worker's exit. */
  async terminate(): Promise<void> {
    this.#terminated = true;
    this.#ready.clear();
    await Promise.all(this.#slots.map((slot) => slot.thread.terminate()));
  }

  // --- internal ---

  #dispatch(): void {
    if (this.#paused || this.#terminated) return;
    for (const slot of this.#slots) {
      if (this.#ready.size === 0) return;
      if (slot.busy) continue;
      const batch = this.#takeBatch();
      if (batch.length === 0) return;
      const newFunctions: FunctionSpec[] = [];
      for (const task of batch) {
        if (slot.knownFunctions.has(task.fnHash)) continue;
        const spec = this.#options.lookupFunction(task.fnHash);
        if (spec) newFunctions.push(spec);
        slot.knownFunctions.add(task.fnHash);
      }
      if (newFunctions.length > 0) slot.thread.postMessage({ type: "define", functions: newFunctions } satisfies ThreadRequest);
      slot.busy = true;
      for (const task of batch) slot.running.set(task.key, task.fnHash);
      const tasks: ThreadTask[] = batch.map(({ key, fnHash, args, deps }) => ({ key, fnHash, args, deps }));
      slot.thread.postMessage({ type: "run", tasks } satisfies ThreadRequest);
    }
  }

  #takeBatch(): PoolTask[] {
    // The first task, in priority order, whose resources are free (tasks without needs always are).
    const first = this.#ready.take((t) => this.#fits(t));
    if (!first) return [];
    const batch = [first];
    if (first.resources) {
      this.#hold(first);
      return batch;
    }
    let estimate = this.#durations.get(first.fnHash);
    if (estimate === undefined || estimate > BATCH_TARGET_MS / 2) return batch;
    // Leave work for the other idle threads.
    const idle = this.#slots.filter((s) => !s.busy).length;
    const share = Math.ceil(this.#ready.size / Math.max(1, idle));
    while (batch.length < MAX_BATCH && batch.length <= share) {
      const next = this.#ready.peek();
      if (!next || next.resources) break;
      const nextEstimate = this.#durations.get(next.fnHash);
      if (nextEstimate === undefined || estimate + nextEstimate > BATCH_TARGET_MS) break;
      estimate += nextEstimate;
      batch.push(this.#ready.take(() => false) as PoolTask);
    }
    return batch;
  }

  #spawn(): ThreadSlot {
    const workerData: ExecutorThreadData = { modulePolicy: this.#options.modulePolicy };
    const thread = new Worker(threadEntry(), { workerData });
    const slot: ThreadSlot = { thread, busy: false, knownFunctions: new Set(), running: new Map() };
    thread.on("message", (message: ThreadResults) => {
      for (const result of message.results) {
        const fnHash = slot.running.get(result.key);
        slot.running.delete(result.key);
        this.#release(result.key);
        if (fnHash !== undefined) this.#recordDuration(fnHash, result.durationMs);
        this.#options.onResult(result);
      }
      if (message.batchDone) {
        slot.busy = false;
        this.#dispatch();
      }
    });
    thread.on("error", (error) => this.#replace(slot, error));
    thread.on("exit", (code) => {
      if (!this.#terminated && this.#slots.includes(slot)) this.#replace(slot, new Error(`executor thread exited with code ${code}`));
    });
    // Executor threads never keep the process alive on their own; the worker's connection does.
    thread.unref();
    return slot;
  }

  #fits(task: PoolTask): boolean {
    if (!task.resources) return true;
    for (const [name, amount] of Object.entries(task.resources)) if ((this.#free.get(name) ?? 0) < amount) return false;
    return true;
  }

  #hold(task: PoolTask): void {
    if (!task.resources) return;
    for (const [name, amount] of Object.entries(task.resources)) this.#free.set(name, (this.#free.get(name) ?? 0) - amount);
    this.#held.set(task.key, task.resources);
  }

  #release(key: string): void {
    const held = this.#held.get(key);
    if (!held) return;
    this.#held.delete(key);
    for (const [name, amount] of Object.entries(held)) this.#free.set(name, (this.#free.get(name) ?? 0) + amount);
  }

  /** Replace a thread on purpose: its tasks are dropped, not reported. */
  #retire(slot: ThreadSlot): void {
    for (const key of slot.running.keys()) this.#release(key);
    const index = this.#slots.indexOf(slot);
    this.#slots[index] = this.#spawn();
    void slot.thread.terminate();
    this.#dispatch();
  }

  #replace(slot: ThreadSlot, error: Error): void {
    if (this.#terminated) return;
    const index = this.#slots.indexOf(slot);
    if (index === -1) return;
    const lost = [...slot.running.keys()];
    for (const key of lost) this.#release(key);
    this.#slots[index] = this.#spawn();
    void slot.thread.terminate();
    if (lost.length > 0) this.#options.onThreadCrash(lost, error);
    this.#dispatch();
  }

  /** How long a function takes (ms), for batching decisions. */
  #recordDuration(fnHash: string, durationMs: number): void {
    const previous = this.#durations.get(fnHash);
    this.#durations.set(fnHash, previous === undefined ? durationMs : 0.7 * previous + 0.3 * durationMs);
  }
}

/** The thread script: built JS next to this file, or the package's dist when running from source (tests). */
function threadEntry(): URL {
  const here = new URL("./executor-thread.js", import.meta.url);
  if (import.meta.url.endsWith(".js") && existsSync(fileURLToPath(here))) return here;
  const built = new URL("../dist/executor-thread.js", import.meta.url);
  if (existsSync(fileURLToPath(built))) return built;
  throw new Error(`cannot find the executor thread script (looked for ${fileURLToPath(here)} and ${fileURLToPath(built)}); build @skein/worker first`);
}

