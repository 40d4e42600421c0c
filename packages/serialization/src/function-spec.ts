/**
 * How a task's function travels. By value: its source text, compiled once per worker thread and
 * cached by hash. By reference: a module specifier and an export name, imported on the worker (on
 * HPC the shared filesystem makes the same absolute path valid on every node).
 */
import { createHash } from "node:crypto";
import { Script } from "node:vm";
import { SKEIN_ERROR_CODES, SkeinError } from "./errors.js";

export interface SourceFunctionSpec {
  kind: "source";
  /** sha256 of kind + source: the cache key on workers. */
  hash: string;
  /** `fn.name`, or "lambda"; used in task keys and error messages. */
  name: string;
  /** An expression that evaluates to the function. */
  source: string;
}

export interface ModuleFunctionSpec {
  kind: "module";
  hash: string;
  name: string;
  /** `file:///abs/path.js` or a bare package name, resolved on the worker. */
  module: string;
  /** Export name; "default" for the default export. */
  export: string;
}

export type FunctionSpec = SourceFunctionSpec | ModuleFunctionSpec;

/** A function sent by reference: `{ module: "file:///abs/path.js" | "package-name", export: "name" }`. */
export interface FunctionReference {
  readonly module: string;
  readonly export: string;
}

/** Names used for anonymous functions in keys. */
export const ANONYMOUS_FUNCTION_NAME = "lambda";

/**
 * Describe a function for the wire. Throws `BAD_FUNCTION` for functions whose source cannot stand on
 * its own (native and bound functions), and when the source does not compile.
 */
export function functionSpecOf(fn: Function): SourceFunctionSpec {
  const text = Function.prototype.toString.call(fn);
  const name = safeName(fn.name);
  if (/\{\s*\[native code\]\s*\}\s*$/.test(text)) {
    const bound = fn.name.startsWith("bound ");
    throw new SkeinError(
      "client",
      SKEIN_ERROR_CODES.BAD_FUNCTION,
      bound
        ? `function "${fn.name}" is a bound function; its source is not available to send to workers. ` +
            "Pass the bound values as task arguments instead of using .bind()."
        : `function "${fn.name || ANONYMOUS_FUNCTION_NAME}" is a native function and cannot be sent by value. ` +
            "Wrap it, e.g. (x) => Math.sqrt(x), or send it by reference ({ module, export }).",
    );
  }
  const source = toExpressionSource(text, fn.name);
  return { kind: "source", hash: hashOf("source", source), name, source };
}

/** Describe a by-reference function; validates the shape. */
export function functionSpecOfReference(ref: FunctionReference): ModuleFunctionSpec {
  if (typeof ref.module !== "string" || ref.module.length === 0) {
    throw new SkeinError("client", SKEIN_ERROR_CODES.BAD_FUNCTION, `a function reference needs "module" as a non-empty string (a file:// URL or package name), got ${JSON.stringify(ref.module)}`);
  }
  if (typeof ref.export !== "string" || ref.export.length === 0) {
    throw new SkeinError("client", SKEIN_ERROR_CODES.BAD_FUNCTION, `a function reference needs "export" as a non-empty string (use "default" for a default export), got ${JSON.stringify(ref.export)}`);
  }
  if (ref.module.startsWith(".") || ref.module.startsWith("/")) {
    throw new SkeinError(
      "client",
      SKEIN_ERROR_CODES.BAD_FUNCTION,
      `function reference module "${ref.module}" is a path; workers may run in another directory. ` +
        `Use an absolute file URL, e.g. pathToFileURL("${ref.module}").href or new URL("${ref.module}", import.meta.url).href`,
    );
  }
  const name = safeName(ref.export === "default" ? lastPathPart(ref.module) : ref.export);
  return { kind: "module", hash: hashOf("module", `${ref.module}#${ref.export}`), name, module: ref.module, export: ref.export };
}

/** True for `{ module, export }` objects. */
export function isFunctionReference(value: unknown): value is FunctionReference {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as FunctionReference).module === "string" &&
    typeof (value as FunctionReference).export === "string"
  );
}

/**
 * Turn `Function.prototype.toString()` output into an expression. Arrow functions, function
 * expressions and classes already are; method shorthand (`double(x) { … }`, `async *gen() {}`) is
 * not, so it is wrapped in an object literal and read back.
 */
export function toExpressionSource(text: string, name: string): string {
  const direct = `(${text})`;
  if (compiles(direct)) return direct;
  const method = `(Object.values({ ${text} })[0])`;
  if (compiles(method)) return method;
  const error = compileError(direct);
  throw new SkeinError(
    "client",
    SKEIN_ERROR_CODES.BAD_FUNCTION,
    `the source of function "${name || ANONYMOUS_FUNCTION_NAME}" does not compile on its own (${error}). ` +
      "Functions sent by value must be self-contained arrow functions, function expressions or declarations; " +
      "otherwise send it by reference ({ module, export }).",
  );
}

// --- internal ---

function hashOf(kind: string, text: string): string {
  return createHash("sha256").update(kind).update("\0").update(text).digest("hex").slice(0, 32);
}

function compiles(source: string): boolean {
  return compileError(source) === undefined;
}

function compileError(source: string): string | undefined {
  try {
    new Script(source);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

function safeName(name: string): string {
  const cleaned = name.replace(/^bound /, "").replace(/[^A-Za-z0-9_$]/g, "_");
  return cleaned.length > 0 ? cleaned.slice(0, 64) : ANONYMOUS_FUNCTION_NAME;
}

function lastPathPart(specifier: string): string {
  const last = specifier.split(/[\\/]/).pop() ?? specifier;
  return last.replace(/\.[cm]?[jt]s$/, "");
}
