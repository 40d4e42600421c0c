import { describe, expect, it } from "vitest";
import { TaskRef, decodeValue, encodeValue, registerRefClass } from "./codec.js";
import { SKEIN_ERROR_CODES } from "./errors.js";

class FakeFuture {
  constructor(readonly key: string) {}
}
registerRefClass(FakeFuture, (f) => f.key);

describe("value codec", () => {
  it.each([
    ["number", 3.25],
    ["negative zero-free float", -1.5e-300],
    ["string", "héllo ☃"],
    ["null", null],
    ["undefined", undefined],
    ["boolean", true],
    ["nested array", [1, [2, [3, "x"]]]],
    ["plain object", { a: 1, b: { c: [true, null] } }],
    ["Map with non-string keys", new Map<unknown, unknown>([[1, "one"], [{ k: 1 }, [2]]])],
    ["Set", new Set([1, "a"])],
    ["Date", new Date(1_700_000_000_000)],
    ["small BigInt", 5n],
    ["huge BigInt", 12n ** 40n],
    ["RegExp", /ab+c/gi],
    ["Float64Array", new Float64Array([1.5, -2, Number.MAX_VALUE])],
    ["Int32Array", new Int32Array([1, -2, 3])],
    ["Uint8Array", new Uint8Array([0, 255])],
    ["NaN and Infinity", [Number.NaN, Number.POSITIVE_INFINITY]],
  ])("round-trips %s with its type", (_name, value) => {
    const back = decodeValue(encodeValue(value).bytes);
    expect(back).toEqual(value);
    if (value !== null && typeof value === "object") expect(Object.getPrototypeOf(back)).toBe(Object.getPrototypeOf(value));
  });

  it("keeps shared references shared", () => {
    const shared = { n: 1 };
    const back = decodeValue(encodeValue([shared, shared]).bytes) as [object, object];
    expect(back[0]).toBe(back[1]);
  });

  it("reports task references met while encoding, at any depth", () => {
    const encoded = encodeValue({ a: [new FakeFuture("x-1"), { deep: new Map([["k", new FakeFuture("y-2")]]) }] });
    expect(encoded.refs).toEqual(["x-1", "y-2"]);
  });

  it("resolves references through the resolver on decode", () => {
    const { bytes } = encodeValue([new FakeFuture("x-1"), { b: new FakeFuture("y-2") }]);
    const values: Record<string, unknown> = { "x-1": 10, "y-2": [1, 2] };
    expect(decodeValue(bytes, (k) => values[k])).toEqual([10, { b: [1, 2] }]);
  });

  it("decodes references as TaskRef placeholders without a resolver", () => {
    const { bytes } = encodeValue(new FakeFuture("x-1"));
    expect(decodeValue(bytes)).toEqual(new TaskRef("x-1"));
  });

  it("owns its output buffer exactly", () => {
    const { bytes } = encodeValue("abc");
    expect(bytes.byteOffset).toBe(0);
    expect(bytes.buffer.byteLength).toBe(bytes.byteLength);
  });

  it("names the function that cannot be sent", () => {
    expect(() => encodeValue({ config: { onDone: function onDone() {} } })).toThrowError(
      expect.objectContaining({ code: "SKEIN_ERR_NOT_SERIALIZABLE", message: expect.stringContaining("value.config.onDone is a function (onDone)") }),
    );
  });

  it("names a symbol that cannot be sent", () => {
    expect(() => encodeValue([1, Symbol("s")])).toThrow(/value\[1\] is a symbol/);
  });
});

describe("the encoder's scratch buffer", () => {
  it("does not stay grown to the largest frame ever encoded", async () => {
    const { encodeFrame } = await import("./codec.js");
    const big = encodeFrame([{ op: "data", requestId: 1, data: { k: new Uint8Array(20 * 1024 * 1024) }, missing: [] }]);
    expect(big.byteLength).toBeGreaterThan(20 * 1024 * 1024);
    const small = encodeFrame([{ op: "get-data", requestId: 2, keys: ["a"] }]);
    expect(small.buffer.byteLength).toBeLessThan(1024 * 1024);
  });
});

describe("attachments: large byte strings beside the frame", () => {
  const big = () => {
    const a = new Uint8Array(8 * 1024 * 1024);
    for (let i = 0; i < a.length; i += 4099) a[i] = i & 0xff;
    return a;
  };

  it("leaves large byte strings out of the frame, as the very arrays given, and puts them back on decode", async () => {
    const { MIN_ATTACHMENT_BYTES, decodeFrame, encodeFrameParts } = await import("./codec.js");
    const payload = big();
    const small = new Uint8Array([1, 2, 3]);
    const message = { op: "data", requestId: 1, data: { a: payload, b: small }, missing: [] };
    const { frame, attachments } = encodeFrameParts([message]);
    // Not copied, not encoded element by element, not base64'd: the frame is a small header.
    expect(attachments).toHaveLength(1);
    expect(attachments[0]).toBe(payload);
    expect(frame.byteLength).toBeLessThan(100);
    // The message itself is left as it was.
    expect(message.data.a).toBe(payload);
    const [back] = decodeFrame(frame, attachments) as [{ data: Record<string, Uint8Array> }];
    expect(back.data.a).toBe(payload);
    expect(back.data.b).toEqual(small);
    // Just below the threshold, bytes stay inside the frame.
    const inline = encodeFrameParts([{ op: "put-data", data: new Uint8Array(MIN_ATTACHMENT_BYTES - 1) }]);
    expect(inline.attachments).toHaveLength(0);
    expect(inline.frame.byteLength).toBeGreaterThanOrEqual(MIN_ATTACHMENT_BYTES - 1);
  });

  it("finds byte strings at any depth, in arrays and records", async () => {
    const { decodeFrame, encodeFrameParts } = await import("./codec.js");
    const x = big();
    const y = big();
    const messages = [{ op: "update-graph", tasks: [{ key: "a", args: x }, { key: "b", args: new Uint8Array(4) }, { key: "c", args: y }] }];
    const { frame, attachments } = encodeFrameParts(messages);
    expect(attachments).toHaveLength(2);
    expect(attachments[0]).toBe(x);
    expect(attachments[1]).toBe(y);
    const [back] = decodeFrame(frame, attachments) as [{ tasks: { args: Uint8Array }[] }];
    expect(back.tasks[0]?.args).toBe(x);
    expect(back.tasks[2]?.args).toBe(y);
    expect(messages[0]?.tasks[0]?.args).toBe(x);
  });

  it("reads manifests and refuses malformed ones", async () => {
    const { decodeAttachmentManifest, encodeAttachmentManifest, encodeFrame } = await import("./codec.js");
    expect(decodeAttachmentManifest(encodeAttachmentManifest([5, 1 << 20]), 1 << 30)).toEqual([5, 1 << 20]);
    expect(decodeAttachmentManifest(encodeFrame([{ op: "get-data", requestId: 1, keys: [] }]), 1 << 30)).toBeUndefined();
    expect(() => decodeAttachmentManifest(encodeAttachmentManifest([2 ** 31]), 1 << 30)).toThrow(/attachment size/);
    expect(() => decodeAttachmentManifest(encodeAttachmentManifest([0]), 1 << 30)).toThrow(/attachment size/);
    expect(() => decodeAttachmentManifest(encodeAttachmentManifest([]), 1 << 30)).toThrow(/1 to/);
  });

  it("refuses attachment references without their attachments", async () => {
    const { decodeFrame, encodeFrameParts } = await import("./codec.js");
    const { frame, attachments } = encodeFrameParts([{ op: "put-data", data: big() }]);
    expect(attachments).toHaveLength(1);
    expect(() => decodeFrame(frame)).toThrow(/outside a frame/);
    expect(() => decodeFrame(frame, [])).toThrow(/does not name one of/);
  });
});

describe("large binary values", () => {
  it("encode as the payload plus a small header, not element by element", () => {
    const n = 8 * 1024 * 1024;
    for (const value of [new Uint8Array(n).fill(7), new Float64Array(n / 8).fill(1.5), Buffer.alloc(n, 3)]) {
      const { bytes } = encodeValue(value);
      expect(bytes.byteLength).toBeGreaterThanOrEqual(n);
      expect(bytes.byteLength).toBeLessThanOrEqual(n + 16);
      const back = decodeValue(bytes) as ArrayBufferView;
      expect(Object.getPrototypeOf(back)).toBe(Object.getPrototypeOf(value));
      expect(sameBytes(back, value)).toBe(true);
    }
  });

  it("go to shared memory from `sharedFrom` bytes, and decode in place", () => {
    const value = new Uint8Array(1 << 20).fill(9);
    const { bytes } = encodeValue(value, { sharedFrom: 1 << 16 });
    expect(bytes.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(bytes.byteOffset).toBe(0);
    expect(bytes.buffer.byteLength).toBe(bytes.byteLength);
    const back = decodeValue(bytes) as Uint8Array;
    expect(sameBytes(back, value)).toBe(true);
    // A view into the encoding, not a copy of it.
    expect(back.buffer).toBe(bytes.buffer);
    expect(encodeValue(new Uint8Array(10), { sharedFrom: 1 << 16 }).bytes.buffer).toBeInstanceOf(ArrayBuffer);
  });
});

/** Byte-wise equality, fast (deep equality walks megabytes element by element). */
function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

describe("large typed arrays as the whole value", () => {
  it.each([Uint8Array, Uint8ClampedArray, Uint16Array, Uint32Array, Int8Array, Int16Array, Int32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array])(
    "%o: one header of 8 bytes, then the bytes, decoding to a view of the same type",
    (Type) => {
      const n = 1 << 17;
      const value = new (Type as unknown as new (n: number) => ArrayBufferView)(n / (Type as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT);
      new Uint8Array(value.buffer).forEach((_, i, a) => (a[i] = (i * 7) & 0xff));
      const { bytes } = encodeValue(value);
      expect(bytes.byteLength).toBe(n + 8);
      const back = decodeValue(bytes) as ArrayBufferView;
      expect(Object.getPrototypeOf(back)).toBe(Object.getPrototypeOf(value));
      expect(sameBytes(back, value)).toBe(true);
      // Aligned, so a view into the encoding rather than a copy.
      expect(back.buffer).toBe(bytes.buffer);
    },
  );

  it("a view into a larger buffer sends only its own bytes", () => {
    const whole = new Float64Array(1 << 16).map((_, i) => i);
    const view = whole.subarray(100, 100 + (1 << 14));
    const back = decodeValue(encodeValue(view).bytes) as Float64Array;
    expect(back.length).toBe(1 << 14);
    expect(back[0]).toBe(100);
    expect(back[back.length - 1]).toBe(100 + (1 << 14) - 1);
  });
});

describe("values that would arrive changed", () => {
  it.each([
    ["a Promise (a forgotten await)", { rows: Promise.resolve([1]) }, "value.rows is a Promise: await it first, or pass a future"],
    ["a WeakMap", [1, new WeakMap()], "value[1] is a WeakMap"],
    ["a WeakSet", new Map([["k", new WeakSet()]]), "value.get(k) is a WeakSet"],
  ])("%s is refused, naming where it is", (_label, value, where) => {
    expect(() => encodeValue(value)).toThrow(expect.objectContaining({ code: SKEIN_ERROR_CODES.NOT_SERIALIZABLE, message: expect.stringContaining(where) }));
  });
});
