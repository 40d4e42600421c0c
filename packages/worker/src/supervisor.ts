/**
 * `skein worker --nworkers N`: starts N worker processes, restarts the ones that crash, and leaves
 * when they are all done. The children stay in this process's tree (a batch system's `qdel` must
 * reach them) and exit by themselves if this process dies (the IPC channel closes).
 */
import { fork, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { log } from "@skein/transport/log";
import { FINAL_EXIT_CODES, WORKER_EXIT_CODES } from "./exit-codes.js";
import type { WorkerOptions } from "./worker.js";

/**
 * glibc's malloc, unless told otherwise, raises its mmap threshold each time a large block is freed
 * (up to 32 MiB), so later results of a few MiB come from its heap, and freeing them does not give
 * the memory back: a worker that held 200 MB of results once keeps that RSS after they are released,
 * and stays paused, or spills, for nothing. A fixed threshold keeps every block of 1 MiB or more
 * mapped on its own and returned at once. (Dask sets MALLOC_TRIM_THRESHOLD_ for the same reason.)
 * Values the user set win.
 */
const MALLOC_ENV = { MALLOC_MMAP_THRESHOLD_: String(1024 * 1024), MALLOC_TRIM_THRESHOLD_: String(64 * 1024) };

/** Restarts allowed per worker slot within RESTART_WINDOW_MS before the slot gives up. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;
/** After SIGTERM, children get this long to leave gracefully (they retire within 20 s) before SIGKILL. */
const KILL_AFTER_MS = 25_000;

export interface SupervisorOptions extends Omit<WorkerOptions, "name" | "secret"> {
  /** Worker processes to run. @default 1 */
  nworkers?: number;
  /** Worker names are `<name>-<i>`. */
  name: string;
  /** Passed to children in their environment, never on their command line. */
  secret: string;
  /**
   * Leave when standard input closes. The ssh backend keeps the session's stdin open, so workers
   * never outlive the ssh connection that started them. @default false
   */
  watchStdin?: boolean;
}

interface Slot {
  readonly index: number;
  child: ChildProcess | undefined;
  restarts: number[];
  done: boolean;
  exitCode: number;
}

/** Run the worker processes until they all end; resolves with the exit code for this process. */
export function runSupervisor(options: SupervisorOptions): Promise<number> {
  const { nworkers = 1, secret, watchStdin = false, ...workerOptions } = options;
  const slots: Slot[] = Array.from({ length: nworkers }, (_, index) => ({ index, child: undefined, restarts: [], done: false, exitCode: 0 }));
  let stopping = false;
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((resolve) => (resolveDone = resolve));

  const start = (slot: Slot) => {
    const childOptions: Omit<WorkerOptions, "secret"> = { ...workerOptions, name: `${options.name}-${slot.index}` };
    const child = fork(fileURLToPath(childEntry()), [], {
      env: { ...MALLOC_ENV, ...process.env, SKEIN_SECRET: secret, SKEIN_WORKER_OPTIONS: JSON.stringify(childOptions) },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      serialization: "advanced",
    });
    slot.child = child;
    child.once("exit", (code, signal) => onExit(slot, code, signal));
  };

  const onExit = (slot: Slot, code: number | null, signal: NodeJS.Signals | null) => {
    slot.child = undefined;
    const crashed = code === null || !FINAL_EXIT_CODES.has(code);
    if (crashed && !stopping) {
      const now = Date.now();
      slot.restarts = slot.restarts.filter((t) => now - t < RESTART_WINDOW_MS);
      if (slot.restarts.length < MAX_RESTARTS) {
        slot.restarts.push(now);
        const delay = 250 * 2 ** (slot.restarts.length - 1);
        const what = code === WORKER_EXIT_CODES.MEMORY_EXCEEDED ? "stopped above its memory terminate threshold" : `died (${signal ?? `exit code ${code}`})`;
        process.stderr.write(`[skein] worker ${options.name}-${slot.index} ${what}; restarting in ${delay} ms\n`);
        setTimeout(() => (stopping ? finishSlot(slot, 1) : start(slot)), delay);
        return;
      }
      process.stderr.write(`[skein] worker ${options.name}-${slot.index} died ${MAX_RESTARTS} times within a minute; giving up on it\n`);
    }
    // A child we stopped with a signal ended as asked.
    finishSlot(slot, code ?? (stopping ? WORKER_EXIT_CODES.CLOSED : 1));
  };

  const finishSlot = (slot: Slot, code: number) => {
    slot.done = true;
    slot.exitCode = code;
    // Once the scheduler is gone for one worker it is gone for all: stop the others too.
    if (code === WORKER_EXIT_CODES.SCHEDULER_LOST || code === WORKER_EXIT_CODES.NEVER_CONNECTED || code === WORKER_EXIT_CODES.CLOSED) stopAll("SIGTERM");
    if (slots.every((s) => s.done)) {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
      if (watchStdin) process.stdin.pause();
      resolveDone(Math.max(...slots.map((s) => s.exitCode)));
    }
  };

  const stopAll = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    for (const slot of slots) slot.child?.kill(signal);
    const killer = setTimeout(() => {
      for (const slot of slots) slot.child?.kill("SIGKILL");
    }, KILL_AFTER_MS);
    killer.unref();
  };

  const onSignal = (signal: NodeJS.Signals) => {
    log.debug(`supervisor ${options.name}: ${signal}, stopping ${nworkers} worker(s)`);
    stopAll("SIGTERM");
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  if (watchStdin) {
    const onEnd = () => {
      log.debug(`supervisor ${options.name}: stdin closed, stopping ${nworkers} worker(s)`);
      stopAll("SIGTERM");
    };
    process.stdin.once("end", onEnd);
    process.stdin.once("close", onEnd);
    process.stdin.on("error", onEnd);
    process.stdin.resume();
  }

  for (const slot of slots) start(slot);
  return done;
}

function childEntry(): URL {
  const here = new URL("./worker-process.js", import.meta.url);
  if (import.meta.url.endsWith(".js") && existsSync(fileURLToPath(here))) return here;
  return new URL("../dist/worker-process.js", import.meta.url);
}
