/**
 * Memory management as one worker uses it: its spill store, its monitor, and what they say. The
 * policy is memory-manager.ts and the store spill-store.ts; this file connects them to a worker's
 * executor pool and scheduler link, and words the messages a user sees.
 */
import { tmpdir } from "node:os";
import { formatBytes } from "@skein/serialization";
import { log } from "@skein/transport";
import type { ExecutorPool } from "./executor-pool.js";
import { MemoryManager, exposeGarbageCollector } from "./memory-manager.js";
import { resolveMemoryThresholds, type MemoryThresholds } from "./memory-thresholds.js";
import { openSpillStore, type SpillStore } from "./spill-store.js";

/** When to compare the idle process with its limit. */
const LIMIT_CHECK_DELAY_MS = 1000;

export interface WorkerMemory {
  readonly limit: number;
  readonly thresholds: MemoryThresholds;
  readonly store: SpillStore;
  /** The main thread's gc, when the limit asks for memory management. */
  readonly collectGarbage: (() => void) | undefined;
}

/** Call before the executor threads start, so that they get a `gc` too. */
export async function openWorkerMemory(options: { name: string; limit: number; memory?: Partial<MemoryThresholds> | undefined; localDirectory?: string | undefined }): Promise<WorkerMemory> {
  const { name, limit } = options;
  const thresholds = resolveMemoryThresholds(options.memory);
  const collectGarbage = limit > 0 ? exposeGarbageCollector() : undefined;
  const store = await openSpillStore({
    spill: limit > 0 && (thresholds.target !== false || thresholds.spill !== false),
    localDirectory: options.localDirectory ?? process.env.SKEIN_LOCAL_DIRECTORY ?? tmpdir(),
    name,
    onSpillFailure: (problem) => spillOff(name, problem),
  });
  return { limit, thresholds, store, collectGarbage };
}

export interface WorkerMemoryHooks {
  readonly pool: ExecutorPool;
  /** Tell the scheduler (worker-status). */
  setStatus(status: "running" | "paused"): void;
  /** Resumed: restart what pausing held back besides the pool (input fetches). */
  resumed(): void;
  /** Process memory went above terminate: leave now, in a way the scheduler counts as a death. */
  terminate(reason: string): void;
}

export function createWorkerMemoryManager(name: string, memory: WorkerMemory, hooks: WorkerMemoryHooks): MemoryManager {
  const { limit, thresholds, store } = memory;
  // Once the executor threads are up: they are part of what an idle worker uses.
  setTimeout(() => {
    if (store.size === 0 && hooks.pool.executing === 0) warnIfLimitTooSmall(name, limit, thresholds);
  }, LIMIT_CHECK_DELAY_MS).unref();
  return new MemoryManager({
    limit,
    thresholds,
    store,
    collectGarbage: () => {
      memory.collectGarbage?.();
      hooks.pool.collectGarbage();
    },
    onPause: (rss) => {
      log.warn(`worker ${name}: process memory ${formatBytes(rss)} is above ${ofLimit(thresholds.pause, limit)}; pausing (no new tasks) until it goes down`);
      hooks.pool.pause();
      hooks.setStatus("paused");
    },
    onResume: (rss) => {
      log.warn(`worker ${name}: process memory ${formatBytes(rss)} is below the pause threshold again; resuming`);
      hooks.pool.resume();
      hooks.resumed();
      hooks.setStatus("running");
    },
    onTerminate: (rss) => {
      const reason = `process memory ${formatBytes(rss)} went above ${ofLimit(thresholds.terminate, limit)} (the terminate threshold)`;
      process.stderr.write(`[skein] worker ${name}: ${reason}; exiting, so that its supervisor starts a fresh process\n`);
      hooks.terminate(reason);
    },
    onUnmanagedMemory: (rss) =>
      log.warn(
        `worker ${name}: process memory ${formatBytes(rss)} is above the spill threshold and no result is left to spill ` +
          `(results in memory: ${formatBytes(store.memoryBytes)}, on disk: ${formatBytes(store.spilledBytes)}); the rest is held by running tasks or by the process itself`,
      ),
  });
}

// --- internal ---

/** Shown whatever the log level: the user has to act, or at least know why memory may run out. */
function spillOff(name: string, problem: string): void {
  process.stderr.write(
    `[skein] worker ${name}: ${problem}. Spilling to disk is off: results stay in memory, so this worker may pause, or be restarted, ` +
      "when memory runs out. Point --local-directory (or SKEIN_LOCAL_DIRECTORY) at a writable directory with free space.\n",
  );
}

/**
 * A limit below what an idle worker process already uses (about 75 MB) would pause or restart it
 * at once, forever: say so instead of leaving the user with a cluster that does nothing.
 */
function warnIfLimitTooSmall(name: string, limit: number, thresholds: MemoryThresholds): void {
  if (limit <= 0) return;
  const rss = process.memoryUsage.rss();
  const hit = (["terminate", "pause"] as const).find((t) => thresholds[t] !== false && rss > (thresholds[t] as number) * limit);
  if (!hit) return;
  process.stderr.write(
    `[skein] worker ${name}: the process already uses ${formatBytes(rss)} at start, above its ${hit} threshold (${ofLimit(thresholds[hit], limit)}), ` +
      `so it will ${hit === "pause" ? "stay paused" : "be restarted over and over"}. Give each worker more memory (the cluster's memory / processes, or --memory-limit).\n`,
  );
}

/** "285 MB, 95% of the 300 MB memory limit" */
function ofLimit(fraction: number | false, limit: number): string {
  const f = fraction as number;
  return `${formatBytes(f * limit)}, ${Math.round(f * 100)}% of the ${formatBytes(limit)} memory limit`;
}
