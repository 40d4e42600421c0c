/**
 * Runs user functions, in a worker thread, so the worker's main thread stays free for the network:
 * heartbeats, data requests from peers, messages from the scheduler. Decoding arguments and
 * encoding results also happen here, for the same reason.
 */
import { pathToFileURL } from "node:url";
import { createRequire } from "node:module";
import { parentPort, workerData } from "node:worker_threads";
import { MIN_ATTACHMENT_BYTES, decodeValue, encodeError, encodeValue, type EncodedError, type FunctionSpec } from "@skein/serialization";
import type { ExecutorThreadData, ThreadRequest, ThreadResult } from "./executor-protocol.js";
import { refusal } from "./module-policy.js";

const port = parentPort;
if (!port) throw new Error("executor-thread must run inside a worker thread");

/** Post partial results of a long batch at least this often, so one slow task does not hold back the rest. */
const FLUSH_INTERVAL_MS = 10;
const SOURCE_FILENAME_PREFIX = "skein-function:";

const { modulePolicy } = (workerData ?? { modulePolicy: undefined }) as ExecutorThreadData;
const specs = new Map<string, FunctionSpec>();
const compiled = new Map<string, Promise<Function>>();

installCompileHelpers();

port.on("message", (request: ThreadRequest) => {
  if (request.type === "define") {
    for (const spec of request.functions) specs.set(spec.hash, spec);
    return;
  }
  if (request.type === "collect-garbage") return collectGarbage();
  void runBatch(request.tasks);
});

async function runBatch(tasks: Extract<ThreadRequest, { type: "run" }>["tasks"]): Promise<void> {
  let results: ThreadResult[] = [];
  let lastFlush = performance.now();
  for (const task of tasks) {
    results.push(await runOne(task));
    if (performance.now() - lastFlush > FLUSH_INTERVAL_MS) {
      post(results, false);
      results = [];
      lastFlush = performance.now();
    }
  }
  post(results, true);
}

async function runOne(task: Extract<ThreadRequest, { type: "run" }>["tasks"][number]): Promise<ThreadResult> {
  const start = performance.now();
  const spec = specs.get(task.fnHash);
  try {
    if (!spec) throw new Error(`function ${task.fnHash} was never defined on this worker`);
    const fn = await functionFor(spec);
    const inputs = new Map<string, unknown>();
    for (const [key, bytes] of task.deps) inputs.set(key, decodeValue(bytes));
    const args = decodeValue(task.args, (key) => {
      if (!inputs.has(key)) throw new Error(`input ${key} of task ${task.key} is missing on this worker`);
      return inputs.get(key);
    });
    if (!Array.isArray(args)) throw new Error(`arguments of task ${task.key} are not an array`);
    const value = await fn(...args);
    // Large results go to shared memory: the main thread stores them, and later tasks here read them, without copies.
    const { bytes } = encodeValue(value, { sharedFrom: MIN_ATTACHMENT_BYTES });
    return { key: task.key, ok: true, bytes, typeName: typeNameOf(value), durationMs: performance.now() - start };
  } catch (error) {
    return { key: task.key, ok: false, error: explain(error, spec), durationMs: performance.now() - start };
  }
}

/**
 * Free the garbage of finished tasks. The codec keeps the last value it encoded and the last
 * bytes it decoded (cbor-x's reference map and source buffer) until its next call: a trivial round
 * trip lets go of them first, or a large result would stay in this thread until the next task.
 * `gc` exists when the worker's memory monitor exposed it (see memory-manager.ts).
 */
function collectGarbage(): void {
  decodeValue(encodeValue(null).bytes);
  (globalThis as { gc?: () => void }).gc?.();
}

function post(results: ThreadResult[], batchDone: boolean): void {
  // Shared memory is shared, not transferred (and cannot be in a transfer list).
  const transfer = results.flatMap((r) => (r.ok && !(r.bytes.buffer instanceof SharedArrayBuffer) ? [r.bytes.buffer as ArrayBuffer] : []));
  port?.postMessage({ type: "results", results, batchDone }, transfer);
}

function functionFor(spec: FunctionSpec): Promise<Function> {
  let fn = compiled.get(spec.hash);
  if (!fn) {
    const refused = modulePolicy && refusal(modulePolicy, spec.kind === "source" ? { kind: "source", name: spec.name } : { kind: "module", module: spec.module });
    if (refused) return Promise.reject(new ModuleNotAllowedError(refused));
    fn = spec.kind === "source" ? Promise.resolve(compileSource(spec.source, spec.name)) : importReference(spec.module, spec.export);
    compiled.set(spec.hash, fn);
    // A failed import may succeed later (a file written after the first attempt); do not cache failures.
    fn.catch(() => compiled.delete(spec.hash));
  }
  return fn;
}

/** A function the worker's `--allowed-modules` list does not allow. */
class ModuleNotAllowedError extends Error {
  override name = "ModuleNotAllowedError";
}

function compileSource(source: string, name: string): Function {
  // The Function constructor rather than vm: `await import("node:fs")` inside a task then works
  // without vm's experimental loader flag (which prints a warning), and `sourceURL` still names
  // the function in stack traces.
  const fn = new Function(`return ${source}\n//# sourceURL=${SOURCE_FILENAME_PREFIX}${name}`)() as unknown;
  if (typeof fn !== "function") throw new TypeError(`the source sent for "${name}" is not a function`);
  return fn as Function;
}

async function importReference(specifier: string, exportName: string): Promise<Function> {
  let module: Record<string, unknown>;
  try {
    module = (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    // Bare package names resolve from this worker's install; fall back to the working directory,
    // where the user's own packages are.
    if (specifier.startsWith("file:") || !isModuleNotFound(error)) throw error;
    const fromCwd = createRequire(pathToFileURL(`${process.cwd()}/noop.js`)).resolve(specifier);
    module = (await import(pathToFileURL(fromCwd).href)) as Record<string, unknown>;
  }
  const fn = module[exportName];
  if (typeof fn !== "function") {
    const available = Object.keys(module).filter((k) => typeof module[k] === "function");
    throw new TypeError(
      `module ${specifier} has no function export "${exportName}"${available.length > 0 ? `; its function exports are: ${available.join(", ")}` : ""}`,
    );
  }
  return fn as Function;
}

/** Turn what a task threw into a record, with a hint when the cause is a by-value function's closure. */
function explain(error: unknown, spec: FunctionSpec | undefined): EncodedError {
  const encoded = encodeError(error);
  if (spec?.kind !== "source" || !(error instanceof ReferenceError)) return encoded;
  const match = /^(\S+) is not defined$/.exec(error.message);
  if (!match || !(error.stack ?? "").includes(SOURCE_FILENAME_PREFIX)) return encoded;
  const name = match[1] as string;
  return {
    ...encoded,
    message:
      `${error.message}: function "${spec.name}" uses "${name}", which does not exist on the worker. ` +
      "Functions sent by value carry only their source, not the variables they close over. " +
      `Pass "${name}" as an argument, import it inside the function (await import(...)), ` +
      "or send the function by reference ({ module, export }).",
  };
}

function typeNameOf(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  return (value as object).constructor?.name ?? "Object";
}

function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND";
}

/**
 * Tools rewrite the code users write before it runs, and a function sent by value carries the
 * rewritten source. Provide the helpers they insert, so such functions still run here: esbuild's
 * keepNames (used by tsx) wraps functions in `__name(fn, "name")`.
 */
function installCompileHelpers(): void {
  const g = globalThis as Record<string, unknown>;
  // Vite/vitest rewrite `import(x)` into `__vite_ssr_dynamic_import__(x)` in the code they serve,
  // so a function defined in a vitest test arrives with that name in its source.
  if (typeof g.__vite_ssr_dynamic_import__ !== "function") g.__vite_ssr_dynamic_import__ = (specifier: string) => import(specifier);
  if (typeof g.__name !== "function") {
    g.__name = (target: unknown, value: string) => {
      try {
        Object.defineProperty(target, "name", { value, configurable: true });
      } catch {
        // Frozen or exotic targets keep their name; the helper must never throw.
      }
      return target;
    };
  }
}
