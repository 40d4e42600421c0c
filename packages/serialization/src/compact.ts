/**
 * The messages sent once or more per task travel as arrays of their field values instead of maps:
 * `{ op: "task-finished", key, nbytes, … }` becomes `[2, key, nbytes, …]`. A map repeats every
 * field name in every message and costs the decoder a string and a property per name; with small
 * tasks these few messages are most of the traffic, and their field names were a large part of
 * what encoding and decoding them cost. Every other message stays a map.
 *
 * In a frame, an array where a message belongs is a compact message. It is unpacked into the
 * same object before anything checks it, so `parseMessage` validates it as any other message and
 * nothing above the codec sees the difference. Unpacking never throws: a malformed one becomes an
 * object that fails validation, naming the field that is wrong (or the unknown code).
 *
 * The codes and field orders are part of the wire protocol (PROTOCOL_VERSION): add new codes at
 * the end. Absent optional fields are left off the end (or travel as CBOR `undefined`) and stay absent.
 */
import type { MessageOf, Op } from "./messages.js";

type Packed = readonly unknown[];
type Fields = Record<string, unknown>;

interface Layout<O extends Op> {
  readonly op: O;
  pack(message: MessageOf<O>): unknown[];
  /** `packed[0]` is the code. */
  unpack(packed: Packed): Fields;
}

/**
 * Drop absent optional fields off the end (an absent one before a present one stays, as CBOR
 * `undefined`): cbor-x writes `undefined` on a slow path, slower than a whole string.
 */
function trimmed(values: unknown[]): unknown[] {
  while (values.length > 0 && values[values.length - 1] === undefined) values.pop();
  return values;
}

/** Copy the optional fields that are present (not undefined) onto `target`. */
function optional(target: Fields, name: string, value: unknown): Fields {
  if (value !== undefined) target[name] = value;
  return target;
}

/** A list of records, each an array of values; anything else is passed on for validation to reject. */
function packList<T>(list: readonly T[], pack: (item: T) => unknown[]): unknown {
  if (!Array.isArray(list)) return list;
  const packed = new Array<unknown>(list.length);
  for (let i = 0; i < list.length; i++) packed[i] = pack(list[i] as T);
  return packed;
}

function unpackList(value: unknown, unpack: (item: Packed) => Fields): unknown {
  if (!Array.isArray(value)) return value;
  const list = new Array<unknown>(value.length);
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    list[i] = Array.isArray(item) ? unpack(item) : item;
  }
  return list;
}

type Dependency = MessageOf<"compute-task">["deps"][number];
const packDependency = (d: Dependency): unknown[] => [d.key, d.nbytes, d.whoHas];
const unpackDependency = (p: Packed): Fields => ({ key: p[0], nbytes: p[1], whoHas: p[2] });

type Task = MessageOf<"update-graph">["tasks"][number];
const packTask = (t: Task): unknown[] => trimmed([t.key, t.fnHash, t.args, t.deps, t.priority, t.retries, t.workers, t.allowOtherWorkers, t.resources]);
function unpackTask(p: Packed): Fields {
  const task: Fields = { key: p[0], fnHash: p[1], args: p[2], deps: p[3], priority: p[4], retries: p[5] };
  optional(task, "workers", p[6]);
  optional(task, "allowOtherWorkers", p[7]);
  return optional(task, "resources", p[8]);
}

const computeTask: Layout<"compute-task"> = {
  op: "compute-task",
  pack: (m) => trimmed([1, m.key, m.fnHash, m.args, packList(m.deps, packDependency), m.priority, m.stimulusId, m.resources]),
  unpack: (p) =>
    optional({ op: "compute-task", key: p[1], fnHash: p[2], args: p[3], deps: unpackList(p[4], unpackDependency), priority: p[5], stimulusId: p[6] }, "resources", p[7]),
};

const taskFinished: Layout<"task-finished"> = {
  op: "task-finished",
  pack: (m) => trimmed([2, m.key, m.nbytes, m.typeName, m.durationMs, m.stimulusId, m.data]),
  unpack: (p) => optional({ op: "task-finished", key: p[1], nbytes: p[2], typeName: p[3], durationMs: p[4], stimulusId: p[5] }, "data", p[6]),
};

const keyInMemory: Layout<"key-in-memory"> = {
  op: "key-in-memory",
  pack: (m) => trimmed([3, m.key, m.nbytes, m.typeName, m.whoHas, m.data]),
  unpack: (p) => optional({ op: "key-in-memory", key: p[1], nbytes: p[2], typeName: p[3], whoHas: p[4] }, "data", p[5]),
};

const updateGraph: Layout<"update-graph"> = {
  op: "update-graph",
  pack: (m) => [4, m.functions, packList(m.tasks, packTask), m.wants, m.stimulusId],
  unpack: (p) => ({ op: "update-graph", functions: p[1], tasks: unpackList(p[2], unpackTask), wants: p[3], stimulusId: p[4] }),
};

const freeKeys: Layout<"free-keys"> = {
  op: "free-keys",
  pack: (m) => [5, m.keys, m.stimulusId],
  unpack: (p) => ({ op: "free-keys", keys: p[1], stimulusId: p[2] }),
};

const releaseKeys: Layout<"release-keys"> = {
  op: "release-keys",
  pack: (m) => [6, m.keys, m.stimulusId],
  unpack: (p) => ({ op: "release-keys", keys: p[1], stimulusId: p[2] }),
};

/** By code (index); 0 is unused. */
const LAYOUTS: readonly (Layout<Op> | undefined)[] = [undefined, computeTask, taskFinished, keyInMemory, updateGraph, freeKeys, releaseKeys] as Layout<Op>[];
const BY_OP = new Map<string, Layout<Op>>(LAYOUTS.flatMap((layout) => (layout ? [[layout.op, layout] as const] : [])));

/** `message` as a compact array if its op has a layout; otherwise `message` itself. */
export function packMessage(message: unknown): unknown {
  const op = (message as { op?: unknown }).op;
  const layout = typeof op === "string" ? BY_OP.get(op) : undefined;
  return layout ? layout.pack(message as MessageOf<Op>) : message;
}

/** The message a compact array stands for (see the module comment for malformed ones). */
export function unpackMessage(packed: Packed): unknown {
  const code = packed[0];
  const layout = typeof code === "number" ? LAYOUTS[code] : undefined;
  return layout ? layout.unpack(packed) : { op: `(compact message ${typeof code === "number" ? code : typeof code})` };
}
