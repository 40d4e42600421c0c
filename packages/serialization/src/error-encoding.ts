/**
 * Errors cross the wire as explicit records. cbor-x's own handling loses the class name, subclass
 * fields and the stack (the decoded stack is the decode site), so a task's exception would reach the
 * user without the one thing they need: where it happened on the worker.
 */
import { SKEIN_ERROR_CODES, SkeinError, isSkeinErrorCode } from "./errors.js";

export interface EncodedError {
  /** `error.name` on the remote side ("TypeError", "RangeError", a user's class name, …). */
  name: string;
  message: string;
  /** The remote stack, as the remote side printed it. */
  stack?: string | undefined;
  /** `error.code` when it was a string (Node's `ERR_*`, Skein's codes, user codes). */
  code?: string | undefined;
  /** Own primitive fields of the error (e.g. `errno`, `path`), for the user's own handling. */
  props?: Record<string, string | number | boolean | null> | undefined;
  cause?: EncodedError | undefined;
}

const MAX_CAUSE_DEPTH = 8;
const MAX_PROPS = 32;

/** Turn anything thrown into a record that survives the wire. */
export function encodeError(thrown: unknown, depth = 0): EncodedError {
  if (!(thrown instanceof Error)) {
    // `throw "oops"` and `throw { reason }` are legal JS; keep what was thrown, say what it was.
    return { name: "NonErrorThrown", message: `a non-Error value was thrown: ${safeString(thrown)}` };
  }
  const encoded: EncodedError = { name: thrown.name || "Error", message: thrown.message };
  if (typeof thrown.stack === "string") encoded.stack = thrown.stack;
  const code = (thrown as { code?: unknown }).code;
  if (typeof code === "string") encoded.code = code;
  const props = primitiveProps(thrown);
  if (props) encoded.props = props;
  if (thrown.cause !== undefined && depth < MAX_CAUSE_DEPTH) encoded.cause = encodeError(thrown.cause, depth + 1);
  return encoded;
}

/** The error a user sees when a task raised on a worker. */
export class RemoteTaskError extends SkeinError {
  /** Key of the task that raised (for a dependent task, the key of the dependency that failed). */
  readonly key: string;
  readonly remoteName: string;
  readonly remoteMessage: string;
  readonly remoteStack: string | undefined;
  /** The remote `error.code`, if it had one. */
  readonly remoteCode: string | undefined;
  readonly remoteProps: Readonly<Record<string, string | number | boolean | null>>;

  constructor(key: string, remote: EncodedError, options?: ErrorOptions) {
    super("task", SKEIN_ERROR_CODES.TASK_FAILED, `task ${key} failed: ${remote.name}: ${remote.message}`, options);
    this.key = key;
    this.remoteName = remote.name;
    this.remoteMessage = remote.message;
    this.remoteStack = remote.stack;
    this.remoteCode = remote.code;
    this.remoteProps = remote.props ?? {};
    // Show the remote frames first: they say where the task broke. Our local frames follow.
    if (remote.stack) {
      const localFrames = (this.stack ?? "").split("\n").slice(1).join("\n");
      this.stack = `${this.name}: ${this.message}\n    --- remote stack (worker) ---\n${indentFrames(remote.stack)}\n    --- local stack ---\n${localFrames}`;
    }
  }
}

/**
 * A task that was running on workers that died under it, as many times as the scheduler allows
 * (`allowedFailures`, default 3): it is not tried again, since it may be what kills them. `workers`
 * names them; the message says what the last one died of. Still a `RemoteTaskError` (code
 * `SKEIN_ERR_TASK_FAILED`, `remoteCode` `SKEIN_ERR_KILLED_WORKER`), as Dask's `KilledWorker` is.
 */
export class KilledWorkerError extends RemoteTaskError {
  readonly workers: readonly string[];

  constructor(key: string, remote: EncodedError, options?: ErrorOptions) {
    super(key, remote, options);
    this.workers = String(remote.props?.workers ?? "")
      .split(",")
      .filter((name) => name !== "");
  }
}

/**
 * Rebuild an error received from a peer. Skein errors keep their code (so `error.code` works across
 * the wire); task exceptions become `RemoteTaskError` when a task key is given.
 */
export function decodeError(encoded: EncodedError, component: string, key?: string): Error {
  const cause = encoded.cause ? decodeError(encoded.cause, component) : undefined;
  const options = cause ? { cause } : undefined;
  if (key !== undefined) {
    return encoded.code === SKEIN_ERROR_CODES.KILLED_WORKER ? new KilledWorkerError(key, encoded, options) : new RemoteTaskError(key, encoded, options);
  }
  if (isSkeinErrorCode(encoded.code)) {
    const error = new SkeinError(component, encoded.code, stripPrefix(encoded.message), options);
    if (encoded.stack) error.stack = encoded.stack;
    return error;
  }
  const error = new Error(`${encoded.name}: ${encoded.message}`, options);
  if (encoded.stack) error.stack = encoded.stack;
  return error;
}

// --- internal ---

function primitiveProps(error: Error): EncodedError["props"] {
  let props: Record<string, string | number | boolean | null> | undefined;
  let count = 0;
  for (const name of Object.keys(error)) {
    if (name === "code" || name === "cause" || name === "stack" || name === "message" || name === "name") continue;
    const value = (error as unknown as Record<string, unknown>)[name];
    if (value === null || ["string", "number", "boolean"].includes(typeof value)) {
      (props ??= {})[name] = value as string | number | boolean | null;
      if (++count >= MAX_PROPS) break;
    }
  }
  return props;
}

function safeString(value: unknown): string {
  try {
    const text = typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
    return text.length > 200 ? `${text.slice(0, 197)}...` : text;
  } catch {
    return String(value);
  }
}

function indentFrames(stack: string): string {
  return stack
    .split("\n")
    .map((line) => (line.startsWith("    ") ? line : `    ${line}`))
    .join("\n");
}

function stripPrefix(message: string): string {
  // Remote Skein messages already carry "[skein] [component] "; we add our own component again.
  return message.replace(/^\[skein\] \[[^\]]*\] /, "");
}
