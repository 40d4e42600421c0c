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
} as const;

export interface WorkerExit {
  readonly code: number;
  readonly reason: string;
}

/** Exit codes after which restarting the worker makes no sense. */
export const FINAL_EXIT_CODES: ReadonlySet<number> = new Set(Object.values(WORKER_EXIT_CODES));
