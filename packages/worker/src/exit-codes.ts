/** How a worker process ended; the supervisor restarts only crashes. */
export const WORKER_EXIT_CODES = {
  /** Told to close (scheduler shutdown, scale down, SIGTERM). */
  CLOSED: 0,
  /** The scheduler went away after we were connected. */
  SCHEDULER_LOST: 3,
  /** The scheduler never answered within the death timeout. */
  NEVER_CONNECTED: 4,
  /** Bad options or environment: restarting would fail the same way. */
  BAD_CONFIG: 2,
  /**
   * Process memory went above the terminate threshold. Not final: the supervisor starts a fresh
   * process, as Dask's nanny restarts a worker it killed for memory.
   */
  MEMORY_EXCEEDED: 5,
} as const;

export interface WorkerExit {
  readonly code: number;
  readonly reason: string;
}

/** Exit codes after which restarting the worker makes no sense. */
export const FINAL_EXIT_CODES: ReadonlySet<number> = new Set([
  WORKER_EXIT_CODES.CLOSED,
  WORKER_EXIT_CODES.SCHEDULER_LOST,
  WORKER_EXIT_CODES.NEVER_CONNECTED,
  WORKER_EXIT_CODES.BAD_CONFIG,
]);
