/**
 * Hand-written checks for the messages sent per task, in front of the schemas. valibot's checks
 * are generic functions shared by every schema, which V8 optimises late or never: in a fresh
 * worker, checking one compute-task cost more than decoding it. These do the same checks with
 * straight-line code.
 *
 * They only ever say yes: each returns the message as the schema would output it (known fields
 * only), or undefined for anything it is not sure of (a wrong field, an unusual optional field),
 * and `parseMessage` then runs the schema, which decides and words the error. A test holds every
 * one of them to the schema on valid, broken and random messages (fast-parse.test.ts).
 */
import type { MessageOf, Op } from "./messages.js";

type Fields = Record<string, unknown>;

const MAX_KEY = 1024;
const MAX_ADDRESS = 2048;

const isKey = (v: unknown): v is string => typeof v === "string" && v.length >= 1 && v.length <= MAX_KEY;
const isString = (v: unknown): v is string => typeof v === "string";
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;
const isFinite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;

function isKeys(v: unknown): v is string[] {
  if (!Array.isArray(v)) return false;
  for (let i = 0; i < v.length; i++) if (!isKey(v[i])) return false;
  return true;
}

function isAddresses(v: unknown): v is string[] {
  if (!Array.isArray(v)) return false;
  for (let i = 0; i < v.length; i++) {
    const a: unknown = v[i];
    if (typeof a !== "string" || a.length > MAX_ADDRESS) return false;
  }
  return true;
}

function isFiniteList(v: unknown): v is number[] {
  if (!Array.isArray(v)) return false;
  for (let i = 0; i < v.length; i++) if (!isFinite(v[i])) return false;
  return true;
}

/** A plain record (not an array, not a class instance the decoder made). */
function isRecord(v: unknown): v is Fields {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** `name` is absent (not merely undefined: the schema keeps a present undefined, so leave it that case). */
const absent = (m: Fields, name: string): boolean => !(name in m);

type Dependency = MessageOf<"compute-task">["deps"][number];

function dependencies(v: unknown): Dependency[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const deps = new Array<Dependency>(v.length);
  for (let i = 0; i < v.length; i++) {
    const d: unknown = v[i];
    if (!isRecord(d) || !isKey(d.key) || !isCount(d.nbytes) || !isAddresses(d.whoHas)) return undefined;
    deps[i] = { key: d.key, nbytes: d.nbytes, whoHas: d.whoHas };
  }
  return deps;
}

function computeTask(m: Fields): MessageOf<"compute-task"> | undefined {
  if (!isKey(m.key) || !isString(m.fnHash) || !isBytes(m.args) || !isFiniteList(m.priority) || !isString(m.stimulusId) || !absent(m, "resources")) return undefined;
  const deps = dependencies(m.deps);
  if (!deps) return undefined;
  return { op: "compute-task", key: m.key, fnHash: m.fnHash, args: m.args, deps, priority: m.priority, stimulusId: m.stimulusId };
}

function taskFinished(m: Fields): MessageOf<"task-finished"> | undefined {
  if (!isKey(m.key) || !isCount(m.nbytes) || !isString(m.typeName) || !isFinite(m.durationMs) || !isString(m.stimulusId)) return undefined;
  const message: MessageOf<"task-finished"> = { op: "task-finished", key: m.key, nbytes: m.nbytes, typeName: m.typeName, durationMs: m.durationMs, stimulusId: m.stimulusId };
  if (absent(m, "data")) return message;
  if (!isBytes(m.data)) return undefined;
  message.data = m.data;
  return message;
}

function keyInMemory(m: Fields): MessageOf<"key-in-memory"> | undefined {
  if (!isKey(m.key) || !isCount(m.nbytes) || !isString(m.typeName) || !isAddresses(m.whoHas)) return undefined;
  const message: MessageOf<"key-in-memory"> = { op: "key-in-memory", key: m.key, nbytes: m.nbytes, typeName: m.typeName, whoHas: m.whoHas };
  if (absent(m, "data")) return message;
  if (!isBytes(m.data)) return undefined;
  message.data = m.data;
  return message;
}

function keysMessage<O extends "free-keys" | "release-keys">(op: O): (m: Fields) => MessageOf<O> | undefined {
  return (m) => (isKeys(m.keys) && isString(m.stimulusId) ? ({ op, keys: m.keys, stimulusId: m.stimulusId } as MessageOf<O>) : undefined);
}

type Task = MessageOf<"update-graph">["tasks"][number];

function task(t: unknown): Task | undefined {
  if (!isRecord(t) || !isKey(t.key) || !isString(t.fnHash) || !isBytes(t.args) || !isKeys(t.deps) || !isFinite(t.priority) || !isCount(t.retries) || !absent(t, "resources")) return undefined;
  const spec: Task = { key: t.key, fnHash: t.fnHash, args: t.args, deps: t.deps, priority: t.priority, retries: t.retries };
  if (!absent(t, "workers")) {
    if (!Array.isArray(t.workers) || !t.workers.every(isString)) return undefined;
    spec.workers = t.workers;
  }
  if (!absent(t, "allowOtherWorkers")) {
    if (typeof t.allowOtherWorkers !== "boolean") return undefined;
    spec.allowOtherWorkers = t.allowOtherWorkers;
  }
  return spec;
}

/** Without functions only: those are few, varied, and left to the schema. */
function updateGraph(m: Fields): MessageOf<"update-graph"> | undefined {
  if (!Array.isArray(m.functions) || m.functions.length > 0 || !Array.isArray(m.tasks) || !isKeys(m.wants) || !isString(m.stimulusId)) return undefined;
  const tasks = new Array<Task>(m.tasks.length);
  for (let i = 0; i < m.tasks.length; i++) {
    const spec = task(m.tasks[i]);
    if (!spec) return undefined;
    tasks[i] = spec;
  }
  return { op: "update-graph", functions: [], tasks, wants: m.wants, stimulusId: m.stimulusId };
}

/** The fast checks, by op. */
export const FAST_PARSERS: Partial<Record<Op, (message: Fields) => MessageOf<Op> | undefined>> = {
  "compute-task": computeTask,
  "task-finished": taskFinished,
  "key-in-memory": keyInMemory,
  "free-keys": keysMessage("free-keys"),
  "release-keys": keysMessage("release-keys"),
  "update-graph": updateGraph,
};
