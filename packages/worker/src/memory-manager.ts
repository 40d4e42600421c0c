/**
 * The worker's memory policy, after Dask's worker memory manager: a cheap timer compares the
 * results held in memory and the process's memory (RSS) with the thresholds, spills, pauses,
 * resumes, or gives up on the process. It decides; the worker does (pause the executor pool, tell
 * the scheduler, exit).
 */
import { runInNewContext } from "node:vm";
import { setFlagsFromString } from "node:v8";
import type { MemoryThresholds } from "./memory-thresholds.js";
import type { SpillStore } from "./spill-store.js";

/** Dask checks every 100 ms; a check costs one `rss()` call and a few comparisons. */
const DEFAULT_INTERVAL_MS = 100;
/** A forced garbage collection at most this often, and at most 5 % of the time (Dask's ThrottledGC). */
const MIN_GC_INTERVAL_MS = 500;
const MAX_GC_TIME_FRACTION = 0.05;
/** RSS shows what a collection freed this long after it. */
const SETTLE_AFTER_GC_MS = 250;
/** "Nothing left to spill" is said at most this often. */
const UNMANAGED_WARNING_INTERVAL_MS = 30_000;

export interface MemoryManagerOptions {
  /** The worker's memory limit in bytes; 0 turns memory management off. */
  limit: number;
  thresholds: MemoryThresholds;
  store: SpillStore;
  /** @default 100 */
  intervalMs?: number;
  /** Process memory in bytes. @default process.memoryUsage.rss */
  rss?: () => number;
  /** Free what is garbage now, everywhere in the process (main thread and executor threads). */
  collectGarbage?: () => void;
  /** Process memory went above `pause`: stop starting tasks and say so. */
  onPause(rss: number): void;
  /** Process memory is below `pause` again. */
  onResume(rss: number): void;
  /** Process memory went above `terminate`: called once; the process should go. */
  onTerminate(rss: number): void;
  /** Memory is above `spill` and nothing is left to spill (throttled). */
  onUnmanagedMemory?(rss: number): void;
}

export class MemoryManager {
  #options: MemoryManagerOptions;
  #rss: () => number;
  #timer: NodeJS.Timeout | undefined;
  #paused = false;
  #terminating = false;
  #lastGcAt = Number.NEGATIVE_INFINITY;
  #lastGcMs = 0;
  /** `store.spilledTotal` at the last garbage collection: what has left memory since, but not yet RSS. */
  #spilledAtGc = 0;
  #lastUnmanagedWarning = Number.NEGATIVE_INFINITY;

  constructor(options: MemoryManagerOptions) {
    this.#options = options;
    this.#rss = options.rss ?? (() => process.memoryUsage.rss());
  }

  /** Memory management does anything at all: there is a limit and some threshold is on. */
  get enabled(): boolean {
    const { limit, thresholds } = this.#options;
    return limit > 0 && Object.values(thresholds).some((t) => t !== false);
  }

  get paused(): boolean {
    return this.#paused;
  }

  start(): void {
    if (!this.enabled || this.#timer) return;
    this.#timer = setInterval(() => this.check(), this.#options.intervalMs ?? DEFAULT_INTERVAL_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** A result was stored: keep managed memory under `target` now rather than at the next check. */
  afterStore(): void {
    const { limit, thresholds, store } = this.#options;
    if (limit > 0 && thresholds.target !== false) store.spillDownTo(thresholds.target * limit);
  }

  /** One round of the policy (the timer calls it; tests call it directly). */
  check(): void {
    const { limit, thresholds, store } = this.#options;
    if (!this.enabled || this.#terminating) return;
    const rss = this.#rss();
    if (thresholds.terminate !== false && rss > thresholds.terminate * limit) {
      this.#terminating = true;
      this.stop();
      this.#options.onTerminate(rss);
      return;
    }
    if (thresholds.target !== false) store.spillDownTo(thresholds.target * limit);
    const aboveSpill = thresholds.spill !== false && rss > thresholds.spill * limit;
    if (aboveSpill) {
      // Spilled results leave RSS only once collected, and a moment after that (V8 frees large
      // buffers in the background): collect, and let RSS settle before deciding to spill more.
      if (store.spilledTotal > this.#spilledAtGc && store.writingBytes === 0) this.#collect();
      if (performance.now() - this.#lastGcAt >= SETTLE_AFTER_GC_MS) {
        // Dask spills until process memory is back under target (under spill when target is off).
        const goal = Math.min(thresholds.target === false ? 1 : thresholds.target, thresholds.spill as number) * limit;
        const leaving = store.writingBytes + (store.spilledTotal - this.#spilledAtGc);
        const need = rss - goal - leaving;
        if (need > 0 && store.spill(need) === 0 && store.writingBytes === 0) this.#unmanaged(rss);
      }
    }
    if (thresholds.pause !== false) {
      if (rss > thresholds.pause * limit) {
        if (!this.#paused) {
          this.#paused = true;
          this.#options.onPause(rss);
        }
      } else if (this.#paused) {
        this.#paused = false;
        this.#options.onResume(rss);
      }
    }
    // Memory released by spilling or by freed results shows in RSS only after a collection: a
    // paused worker must see it to resume.
    if (aboveSpill || this.#paused) this.#collect();
  }

  // --- internal ---

  /** Collect garbage unless done too recently. */
  #collect(): void {
    const collect = this.#options.collectGarbage;
    const now = performance.now();
    if (now - this.#lastGcAt < Math.max(MIN_GC_INTERVAL_MS, this.#lastGcMs / MAX_GC_TIME_FRACTION)) return;
    this.#spilledAtGc = this.#options.store.spilledTotal;
    this.#lastGcAt = now;
    if (collect) {
      collect();
      this.#lastGcMs = performance.now() - now;
    }
  }

  #unmanaged(rss: number): void {
    const now = performance.now();
    if (now - this.#lastUnmanagedWarning < UNMANAGED_WARNING_INTERVAL_MS) return;
    this.#lastUnmanagedWarning = now;
    this.#options.onUnmanagedMemory?.(rss);
  }
}

/**
 * V8's gc() for this process without `--expose-gc` on the command line (jest's leak detector does
 * the same). Executor threads started afterwards get a global `gc` too. Undefined if V8 refuses
 * the flag.
 */
export function exposeGarbageCollector(): (() => void) | undefined {
  const existing = (globalThis as { gc?: unknown }).gc;
  if (typeof existing === "function") return existing as () => void;
  try {
    setFlagsFromString("--expose-gc");
  } catch {
    return undefined;
  }
  // The context that hands out gc() costs ~5 ms to make: made at the first collection, not while
  // the worker starts (most workers never collect). The flag is set now, for the threads.
  let gc: (() => void) | null | undefined;
  return () => {
    if (gc === undefined) {
      try {
        const found = runInNewContext("gc") as unknown;
        gc = typeof found === "function" ? (found as () => void) : null;
      } catch {
        gc = null;
      }
    }
    gc?.();
  };
}
