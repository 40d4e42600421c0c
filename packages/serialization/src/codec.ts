/**
 * Two CBOR codecs with different jobs:
 * - the frame codec carries protocol messages (plain objects, strings, numbers, byte strings);
 * - the value codec carries user data (task arguments and results) with JS fidelity: Map, Set,
 *   Date, BigInt, RegExp, typed arrays, `undefined`, shared and cyclic references.
 * User data always travels as bytes inside messages, so the scheduler never decodes a user value.
 */
// "cbor-x/encode" is, under Node, the whole codec without the attempt to load cbor-extract's native
// string decoder (not built here, allowScripts): the failed attempt cost every process and
// executor thread 10-30 ms of start-up, for a speed-up it would not have given.
import { Encoder, Tag, addExtension, setSizeLimits } from "cbor-x/encode";
import { packMessage, unpackMessage } from "./compact.js";
import { SKEIN_ERROR_CODES, SkeinError, isSkeinError } from "./errors.js";

/** CBOR tag for "the result of task <key>" inside encoded arguments (private-use range). */
export const TASK_REF_TAG = 40_311;

/**
 * Limits for everything decoded here, frames and user values alike (cbor-x applies them process
 * wide). A length header above them is refused before anything is allocated. 16 M elements leaves
 * room for a graph of a million tasks in one message; frames themselves are capped at 1 GiB by the
 * transport.
 */
export const DECODE_LIMITS = { maxArraySize: 16_000_000, maxMapSize: 16_000_000, maxObjectSize: 16_000_000 } as const;
setSizeLimits(DECODE_LIMITS);

const frameEncoder = new Encoder({
  // Records would make a frame depend on structures defined in earlier frames; every frame must
  // decode on its own (a new peer, a dropped connection).
  useRecords: false,
  // Messages are plain objects: decode CBOR maps as objects, not Maps.
  mapsAsObjects: true,
});

const valueEncoder = new Encoder({
  useRecords: false,
  // Tags for Map, Set, Date, RegExp, typed arrays and repeated/cyclic references: user values come
  // back as the same JS types they were.
  structuredClone: true,
});

/** Encode a batch of protocol messages as one frame. */
export function encodeFrame(messages: readonly unknown[]): Uint8Array {
  return shrinkAfter(frameEncoder.encode(messages));
}

/** Above this, the encoder's scratch buffer is given back after use. */
const KEEP_SCRATCH_BYTES = 8 * 1024 * 1024;

/**
 * cbor-x keeps its scratch buffer, grown to the largest value ever encoded, for the life of the
 * process (one buffer shared by both encoders). After one 200 MB result a worker would hold 200 MB
 * for good; start small again instead. Bytes already returned stay valid: they are views of the
 * old buffer, which lives as long as they do.
 */
function shrinkAfter(encoded: Uint8Array): Uint8Array {
  // `useBuffer` exists on cbor-x's Encoder but is missing from its type declarations.
  if (encoded.byteLength > KEEP_SCRATCH_BYTES) (frameEncoder as unknown as { useBuffer(buffer: Uint8Array): void }).useBuffer(new Uint8Array(8192));
  return encoded;
}

/**
 * Decode one frame into its raw messages (validate each with `parseMessage`), compact ones unpacked
 * into objects (./compact.ts). Byte strings in the
 * result are views into `frame`, not copies; attachment references (tag 40313) resolve to the
 * given `attachments` themselves.
 */
export function decodeFrame(frame: Uint8Array, attachments?: readonly Uint8Array[]): unknown[] {
  let decoded: unknown;
  const previous = currentAttachments;
  currentAttachments = attachments;
  try {
    decoded = frameEncoder.decode(frame);
  } catch (error) {
    throw new SkeinError("protocol", SKEIN_ERROR_CODES.PROTOCOL, `frame of ${frame.byteLength} bytes is not valid CBOR: ${(error as Error).message}`, { cause: error });
  } finally {
    currentAttachments = previous;
  }
  if (!Array.isArray(decoded)) {
    throw new SkeinError("protocol", SKEIN_ERROR_CODES.PROTOCOL, "a frame must be a CBOR array of messages");
  }
  for (let i = 0; i < decoded.length; i++) {
    const item: unknown = decoded[i];
    if (Array.isArray(item)) decoded[i] = unpackMessage(item);
  }
  return decoded;
}

// --- attachments: large byte strings beside the frame, never copied into it ---

/** CBOR tag of an attachment manifest: an array of attachment byte lengths (private-use range). */
export const ATTACHMENT_MANIFEST_TAG = 40_312;
/** CBOR tag, inside a frame, standing for attachment number `n` (the tagged value). */
export const ATTACHMENT_TAG = 40_313;
/** Byte strings at least this long travel as attachments. */
export const MIN_ATTACHMENT_BYTES = 64 * 1024;
/** At most this many attachments per frame. */
export const MAX_ATTACHMENTS = 65_536;

/** A frame whose large byte strings were taken out: send the manifest, the attachments, then `frame`. */
export interface FrameParts {
  frame: Uint8Array;
  /** The byte strings themselves (the caller's arrays, not copies), in reference order. */
  attachments: Uint8Array[];
}

class AttachmentRef {
  constructor(readonly index: number) {}
}

let currentAttachments: readonly Uint8Array[] | undefined;

addExtension({
  Class: AttachmentRef,
  tag: ATTACHMENT_TAG,
  encode(value: AttachmentRef, encode: (v: unknown) => Uint8Array) {
    return encode(value.index);
  },
  decode(index: unknown) {
    const attachments = currentAttachments;
    if (!attachments) throw new Error(`attachment reference (tag ${ATTACHMENT_TAG}) outside a frame`);
    if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= attachments.length) {
      throw new Error(`attachment reference ${String(index)} does not name one of the frame's ${attachments.length} attachments`);
    }
    return attachments[index] as unknown;
  },
});

/**
 * Encode a batch of messages with every byte string of at least `minAttachmentBytes` left out of
 * the CBOR: those travel as raw attachments, so a large result is written to the socket straight
 * from where it is held, with no copy into a frame and no per-element encoding. The messages
 * themselves are not modified (containers on the way to a large byte string are copied shallowly).
 */
export function encodeFrameParts(messages: readonly unknown[], minAttachmentBytes = MIN_ATTACHMENT_BYTES): FrameParts {
  const attachments: Uint8Array[] = [];
  // The per-task messages go compact (./compact.ts); the frame itself is a new array either way.
  const outer = externalize(messages.map(packMessage), minAttachmentBytes, attachments) as unknown[];
  return { frame: encodeFrame(outer), attachments };
}

/** The message announcing `sizes.length` attachments of these byte lengths, sent before them. */
export function encodeAttachmentManifest(sizes: readonly number[]): Uint8Array {
  return frameEncoder.encode(new Tag([...sizes], ATTACHMENT_MANIFEST_TAG));
}

/** The first bytes of every manifest: tag 40312 in its 3-byte form. A frame (a CBOR array) never starts so. */
const MANIFEST_PREFIX = [0xd9, ATTACHMENT_MANIFEST_TAG >> 8, ATTACHMENT_MANIFEST_TAG & 0xff] as const;

/**
 * The attachment byte lengths if `bytes` is a manifest, undefined if it is something else (a
 * frame). Throws `PROTOCOL` for a malformed manifest: sizes must be positive integers of at most
 * `maxBytes`, and there must be 1 to `MAX_ATTACHMENTS` of them.
 */
export function decodeAttachmentManifest(bytes: Uint8Array, maxBytes: number): number[] | undefined {
  if (bytes[0] !== MANIFEST_PREFIX[0] || bytes[1] !== MANIFEST_PREFIX[1] || bytes[2] !== MANIFEST_PREFIX[2]) return undefined;
  let decoded: unknown;
  try {
    decoded = frameEncoder.decode(bytes);
  } catch (error) {
    throw new SkeinError("protocol", SKEIN_ERROR_CODES.PROTOCOL, `attachment manifest of ${bytes.byteLength} bytes is not valid CBOR: ${(error as Error).message}`, { cause: error });
  }
  const sizes = decoded instanceof Tag && decoded.tag === ATTACHMENT_MANIFEST_TAG ? (decoded.value as unknown) : undefined;
  if (!Array.isArray(sizes) || sizes.length === 0 || sizes.length > MAX_ATTACHMENTS) {
    throw new SkeinError("protocol", SKEIN_ERROR_CODES.PROTOCOL, `an attachment manifest must hold 1 to ${MAX_ATTACHMENTS} sizes`);
  }
  for (const size of sizes) {
    if (typeof size !== "number" || !Number.isInteger(size) || size <= 0 || size > maxBytes) {
      throw new SkeinError("protocol", SKEIN_ERROR_CODES.PROTOCOL, `attachment size ${String(size)} is not an integer from 1 to ${maxBytes}`);
    }
  }
  return sizes as number[];
}

/** `value` with byte strings of at least `min` bytes replaced by attachment references (pushed to `out`). */
function externalize(value: unknown, min: number, out: Uint8Array[]): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (value instanceof Uint8Array) {
    if (value.byteLength < min) return value;
    out.push(value);
    return new AttachmentRef(out.length - 1);
  }
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (typeof item !== "object" || item === null) continue;
      const replaced = externalize(item, min, out);
      if (replaced !== item) (copy ??= value.slice())[i] = replaced;
    }
    return copy ?? value;
  }
  // Only plain objects: messages hold nothing else that could contain byte strings.
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    if (typeof item !== "object" || item === null) continue;
    const replaced = externalize(item, min, out);
    if (replaced !== item) (copy ??= { ...(value as Record<string, unknown>) })[key] = replaced;
  }
  return copy ?? value;
}

// --- user values ---

/** Extract the task key from an object that stands for a task result (a client's Future). */
type RefKeyOf = (value: object) => string;

let refCollector: string[] | undefined;
let refResolver: ((key: string) => unknown) | undefined;
const registeredRefClasses = new Set<Function>();

/**
 * Teach the value codec that instances of `cls` stand for task results: they encode as a tagged
 * key, and the keys met while encoding are reported by `encodeValue`. `@skein/core` registers its
 * `Future` class this way, so finding the dependencies of a task costs no extra walk of its arguments.
 */
export function registerRefClass<T extends object>(cls: abstract new (...args: never[]) => T, keyOf: (value: T) => string): void {
  if (registeredRefClasses.has(cls)) return;
  registeredRefClasses.add(cls);
  addExtension({
    Class: cls as unknown as new () => T,
    tag: TASK_REF_TAG,
    encode(value: T, encode: (v: unknown) => Uint8Array) {
      const key = keyOf(value);
      refCollector?.push(key);
      return encode(key);
    },
    decode(key: unknown) {
      return resolveRef(key);
    },
  });
}

/** Tagged refs decode through this hook; without a resolver they become `TaskRef` placeholders. */
export class TaskRef {
  constructor(readonly key: string) {}
}
addExtension({
  Class: TaskRef,
  tag: TASK_REF_TAG,
  encode(value: TaskRef, encode: (v: unknown) => Uint8Array) {
    refCollector?.push(value.key);
    return encode(value.key);
  },
  decode(key: unknown) {
    return resolveRef(key);
  },
});

/**
 * Objects that cbor-x would send as an empty object — a Promise (usually a forgotten `await`), a
 * WeakMap, a WeakSet — are refused with an error naming where they are, instead of arriving as `{}`.
 */
const REFUSED_TAG = 40_314;
const REFUSED_CLASSES: readonly (readonly [abstract new (...args: never[]) => object, string])[] = [
  [Promise, "a Promise: await it first, or pass a future"],
  [WeakMap, "a WeakMap, whose entries cannot be listed"],
  [WeakSet, "a WeakSet, whose entries cannot be listed"],
];
for (const [Class] of REFUSED_CLASSES) {
  addExtension({
    Class: Class as unknown as new () => object,
    tag: REFUSED_TAG,
    encode() {
      throw new Error("it would arrive as an empty object");
    },
    decode() {
      throw new Error(`tag ${REFUSED_TAG} is never sent`);
    },
  });
}

export interface EncodedValue {
  bytes: Uint8Array;
  /** Keys of the task results referenced anywhere inside the value, in order of appearance. */
  refs: string[];
}

export interface EncodeValueOptions {
  /**
   * Encodings of at least this many bytes are returned in a `SharedArrayBuffer` of their own, so
   * that handing them to other threads (postMessage) shares them instead of copying. Unset: never.
   */
  sharedFrom?: number;
}

/** Encode a user value; throws `NOT_SERIALIZABLE` naming what could not be encoded. */
export function encodeValue(value: unknown, options?: EncodeValueOptions): EncodedValue {
  const refs: string[] = [];
  const previous = refCollector;
  refCollector = refs;
  try {
    // `encode` returns a view into the encoder's reusable buffer; copy so the bytes are ours alone
    // and postMessage/structured clone never drags a larger buffer along.
    const direct = encodeLargeTypedArray(value, options?.sharedFrom);
    if (direct) return { bytes: direct, refs };
    const encoded = valueEncoder.encode(value);
    let bytes: Uint8Array;
    if (options?.sharedFrom !== undefined && encoded.byteLength >= options.sharedFrom) {
      bytes = new Uint8Array(new SharedArrayBuffer(encoded.byteLength));
      bytes.set(encoded);
    } else {
      bytes = Uint8Array.prototype.slice.call(encoded);
    }
    shrinkAfter(encoded);
    return { bytes, refs };
  } catch (error) {
    // Errors raised on purpose while encoding (a future from another client) pass through as they are.
    if (isSkeinError(error)) throw error;
    throw notSerializable(value, error);
  } finally {
    refCollector = previous;
  }
}

/** The value codec's tags for typed arrays (little-endian), as cbor-x writes and reads them. */
const TYPED_ARRAY_TAGS = new Map<Function, number>([
  [Uint8Array, 64],
  [Uint8ClampedArray, 68],
  [Uint16Array, 69],
  [Uint32Array, 70],
  [BigUint64Array, 71],
  [Int8Array, 72],
  [Int16Array, 77],
  [Int32Array, 78],
  [BigInt64Array, 79],
  [Float32Array, 85],
  [Float64Array, 86],
]);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** Header of a directly encoded typed array: tag (3-byte form), byte string head (5 bytes). */
const DIRECT_HEADER_BYTES = 8;

/**
 * A large typed array, the whole value, encoded with one copy of its bytes: an 8-byte header
 * (its tag in the 3-byte form, a byte string head) and the bytes, which thus start 8-aligned, so
 * decoding gives a view for every element type (cbor-x copies misaligned ones). The same CBOR
 * value cbor-x writes, in a form it also reads; undefined for anything else.
 */
function encodeLargeTypedArray(value: unknown, sharedFrom: number | undefined): Uint8Array | undefined {
  if (!LITTLE_ENDIAN || !ArrayBuffer.isView(value)) return undefined;
  const tag = TYPED_ARRAY_TAGS.get(value.constructor);
  const n = value.byteLength;
  if (tag === undefined || n < MIN_ATTACHMENT_BYTES || n > 0xffff_ffff) return undefined;
  const size = DIRECT_HEADER_BYTES + n;
  const bytes = new Uint8Array(sharedFrom !== undefined && size >= sharedFrom ? new SharedArrayBuffer(size) : new ArrayBuffer(size));
  bytes[0] = 0xd9;
  bytes[1] = tag >> 8;
  bytes[2] = tag & 0xff;
  bytes[3] = 0x5a;
  new DataView(bytes.buffer).setUint32(4, n);
  bytes.set(new Uint8Array(value.buffer, value.byteOffset, n), DIRECT_HEADER_BYTES);
  return bytes;
}

/**
 * Decode a user value. Task references inside it resolve through `resolve` (a worker passes the
 * decoded values of the task's dependencies); without a resolver they come back as `TaskRef`.
 */
export function decodeValue(bytes: Uint8Array, resolve?: (key: string) => unknown): unknown {
  const previous = refResolver;
  refResolver = resolve;
  try {
    return valueEncoder.decode(bytes);
  } finally {
    refResolver = previous;
  }
}

// --- internal ---

function resolveRef(key: unknown): unknown {
  if (typeof key !== "string") throw new Error(`task reference tag must hold a string key, got ${typeof key}`);
  return refResolver ? refResolver(key) : new TaskRef(key);
}

function notSerializable(value: unknown, error: unknown): SkeinError {
  const detail = (error as Error)?.message ?? String(error);
  const what = findUnserializable(value, "value", new Set());
  const where = what ? ` (${what})` : "";
  return new SkeinError(
    "serialization",
    SKEIN_ERROR_CODES.NOT_SERIALIZABLE,
    `cannot send this value to the cluster${where}: ${detail}. Task arguments and results must be data: ` +
      "numbers, strings, booleans, null/undefined, arrays, plain objects, Map, Set, Date, BigInt, RegExp, typed arrays and Buffers.",
    { cause: error },
  );
}

/** Find the path of the first function, symbol or refused object inside a value, to name it in the error. */
function findUnserializable(value: unknown, path: string, seen: Set<object>): string | undefined {
  if (typeof value === "function") return `${path} is a function${value.name ? ` (${value.name})` : ""}`;
  if (typeof value === "symbol") return `${path} is a symbol`;
  if (value === null || typeof value !== "object" || seen.has(value)) return undefined;
  for (const [Class, what] of REFUSED_CLASSES) if (value instanceof Class) return `${path} is ${what}`;
  seen.add(value);
  if (ArrayBuffer.isView(value)) return undefined;
  const entries: Iterable<[string, unknown]> =
    value instanceof Map
      ? [...value.entries()].map(([k, v]) => [`get(${String(k)})`, v] as [string, unknown])
      : Object.entries(value);
  for (const [name, child] of entries) {
    const found = findUnserializable(child, Array.isArray(value) ? `${path}[${name}]` : `${path}.${name}`, seen);
    if (found) return found;
  }
  return undefined;
}
