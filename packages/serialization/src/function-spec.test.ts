import { describe, expect, it } from "vitest";
import { runInThisContext } from "node:vm";
import { functionSpecOf, functionSpecOfReference, isFunctionReference, toExpressionSource } from "./function-spec.js";

const evalSpec = (fn: Function) => runInThisContext(functionSpecOf(fn).source) as (...a: unknown[]) => unknown;

describe("functions by value", () => {
  it("sends arrow functions, function expressions and declarations", () => {
    function triple(x: number) {
      return 3 * x;
    }
    expect(evalSpec((x: number) => x * 2)(4)).toBe(8);
    expect(evalSpec(function (x: number) { return x + 1; })(4)).toBe(5);
    expect(evalSpec(triple)(4)).toBe(12);
  });

  it("sends method shorthand, async and generator methods", async () => {
    const o = {
      double(x: number) { return 2 * x; },
      async later(x: number) { return x; },
      *gen() { yield 1; },
    };
    expect(evalSpec(o.double)(5)).toBe(10);
    expect(await evalSpec(o.later)(6)).toBe(6);
    expect([...(evalSpec(o.gen)() as Iterable<number>)]).toEqual([1]);
  });

  it("hashes by source, names by function name", () => {
    const a = functionSpecOf((x: number) => x);
    const b = functionSpecOf((x: number) => x);
    const c = functionSpecOf((y: number) => y);
    expect(a.hash).toBe(b.hash);
    expect(a.hash).not.toBe(c.hash);
    const multiply = (x: number) => x * 2;
    expect(functionSpecOf(multiply).name).toBe("multiply");
    expect(functionSpecOf(((x: number) => x) as never).name).toBe("lambda");
  });

  it("refuses native and bound functions with a way out", () => {
    expect(() => functionSpecOf(Math.sqrt)).toThrowError(expect.objectContaining({ code: "SKEIN_ERR_BAD_FUNCTION", message: expect.stringContaining("native function") }));
    expect(() => functionSpecOf(((x: number) => x).bind(null))).toThrow(/bound function/);
  });

  it("refuses a source that does not compile, saying why", () => {
    expect(() => toExpressionSource("x => { return", "broken")).toThrowError(
      expect.objectContaining({ code: "SKEIN_ERR_BAD_FUNCTION", message: expect.stringMatching(/"broken" does not compile on its own \(Unexpected token/) }),
    );
  });
});

describe("functions by reference", () => {
  it("accepts file URLs and package names", () => {
    expect(functionSpecOfReference({ module: "file:///abs/x.js", export: "f" })).toMatchObject({ kind: "module", name: "f" });
    expect(functionSpecOfReference({ module: "some-pkg", export: "default" }).name).toBe("some_pkg");
  });
  it.each([
    [{ module: "", export: "f" }, /"module" as a non-empty string/],
    [{ module: "x", export: "" }, /"export" as a non-empty string/],
    [{ module: "./rel.js", export: "f" }, /is a path/],
    [{ module: "/abs/x.js", export: "f" }, /absolute file URL/],
  ])("rejects %j", (ref, pattern) => {
    expect(() => functionSpecOfReference(ref)).toThrow(pattern);
  });
  it("recognises the shape", () => {
    expect(isFunctionReference({ module: "m", export: "e" })).toBe(true);
    expect(isFunctionReference(() => 1)).toBe(false);
  });
});
