import { describe, expect, it } from "vitest";
import { TaskRef, decodeValue, encodeValue, registerRefClass } from "./codec.js";

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
