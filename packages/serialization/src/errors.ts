/**
 * Skein's error vocabulary. Every error Skein raises is a `SkeinError` with a stable `code`; callers
 * branch on `code`, never on `instanceof` across package boundaries (two copies of a package would
 * each have their own class).
 */

export const SKEIN_ERROR_CODES = {
  /** An option or argument has the wrong type or value. */
  BAD_OPTION: "SKEIN_ERR_BAD_OPTION",
  /** A function cannot be sent to workers (native, bound, or its source does not compile). */
  BAD_FUNCTION: "SKEIN_ERR_BAD_FUNCTION",
  /** A value cannot be encoded for the wire (functions, symbols, …). */
  NOT_SERIALIZABLE: "SKEIN_ERR_NOT_SERIALIZABLE",
  /** The client, cluster or connection was already closed. */
  CLOSED: "SKEIN_ERR_CLOSED",
  /** A future belongs to another client. */
  FOREIGN_FUTURE: "SKEIN_ERR_FOREIGN_FUTURE",
  /** Connecting to a scheduler or worker failed or timed out. */
  CONNECT_FAILED: "SKEIN_ERR_CONNECT_FAILED",
  /** The peer refused our hello: wrong secret or protocol version. */
  AUTH_FAILED: "SKEIN_ERR_AUTH_FAILED",
  /** A message broke the protocol. */
  PROTOCOL: "SKEIN_ERR_PROTOCOL",
  /** A task raised an exception on a worker. */
  TASK_FAILED: "SKEIN_ERR_TASK_FAILED",
  /** The future was cancelled. */
  CANCELLED: "SKEIN_ERR_CANCELLED",
  /** A task was running on too many workers that died. */
  KILLED_WORKER: "SKEIN_ERR_KILLED_WORKER",
  /** Data that cannot be recomputed (scattered) was lost with its worker. */
  DATA_LOST: "SKEIN_ERR_DATA_LOST",
  /** A wait ran past its deadline. */
  TIMEOUT: "SKEIN_ERR_TIMEOUT",
  /** An external command (qsub, ssh, …) failed. */
  COMMAND_FAILED: "SKEIN_ERR_COMMAND_FAILED",
  /** A batch job ended before its workers connected. */
  JOB_FAILED_BEFORE_CONNECT: "SKEIN_ERR_JOB_FAILED_BEFORE_CONNECT",
  /** A backend could not be found or loaded. */
  BACKEND_NOT_FOUND: "SKEIN_ERR_BACKEND_NOT_FOUND",
  /** A task graph has a cycle, or a task depends on a key that is neither in the graph nor held. */
  BAD_GRAPH: "SKEIN_ERR_BAD_GRAPH",
} as const;

export type SkeinErrorCode = (typeof SKEIN_ERROR_CODES)[keyof typeof SKEIN_ERROR_CODES];

const KNOWN_CODES = new Set<string>(Object.values(SKEIN_ERROR_CODES));

/** True when `code` is one of Skein's stable error codes. */
export const isSkeinErrorCode = (code: unknown): code is SkeinErrorCode =>
  typeof code === "string" && KNOWN_CODES.has(code);

export class SkeinError extends Error {
  /** Which part of Skein raised it: "client", "scheduler", "pbs", … */
  readonly component: string;
  readonly code: SkeinErrorCode;

  constructor(component: string, code: SkeinErrorCode, message: string, options?: ErrorOptions) {
    super(`[skein] [${component}] ${message}`, options);
    this.name = new.target.name;
    this.component = component;
    this.code = code;
  }
}

/** True for any SkeinError, including ones from another copy of this package. */
export const isSkeinError = (error: unknown): error is SkeinError =>
  error instanceof Error && isSkeinErrorCode((error as { code?: unknown }).code);

/** Explain what a thrown value was, for error messages. */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === "function") return `function ${value.name || "(anonymous)"}`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === "object") {
    const ctor = (value as object).constructor?.name;
    return ctor && ctor !== "Object" ? `a ${ctor}` : "an object";
  }
  return `${typeof value} ${String(value)}`;
}
