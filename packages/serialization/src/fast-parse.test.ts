/**
 * The hand-written checks may only ever agree with the schemas: whatever they accept, the schema
 * accepts too, with the same output. Checked on valid messages, on each field broken in several
 * ways, and on random ones.
 */
import fc from "fast-check";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { FAST_PARSERS } from "./fast-parse.js";
import { MESSAGE_SCHEMAS, type Op } from "./messages.js";

const bytes = new Uint8Array([1, 2, 3]);
const VALID: Record<string, Record<string, unknown>[]> = {
  "compute-task": [
    { op: "compute-task", key: "add-1", fnHash: "h", args: bytes, deps: [{ key: "inc-1", nbytes: 2, whoHas: ["ws://127.0.0.1:1"] }], priority: [0, 3], stimulusId: "s" },
    { op: "compute-task", key: "inc-1", fnHash: "h", args: bytes, deps: [], priority: [-1.5, 0], stimulusId: "" },
  ],
  "task-finished": [
    { op: "task-finished", key: "a", nbytes: 8, typeName: "number", durationMs: 0.5, stimulusId: "s" },
    { op: "task-finished", key: "a", nbytes: 0, typeName: "", durationMs: -1, data: bytes, stimulusId: "s" },
  ],
  "key-in-memory": [
    { op: "key-in-memory", key: "a", nbytes: 8, typeName: "number", whoHas: [] },
    { op: "key-in-memory", key: "a", nbytes: 8, typeName: "number", whoHas: ["ws://x"], data: bytes },
  ],
  "free-keys": [{ op: "free-keys", keys: ["a", "b"], stimulusId: "s" }],
  "release-keys": [{ op: "release-keys", keys: [], stimulusId: "s" }],
  "update-graph": [
    { op: "update-graph", functions: [], tasks: [{ key: "k", fnHash: "h", args: bytes, deps: ["d"], priority: 0, retries: 2 }], wants: ["k"], stimulusId: "s" },
    { op: "update-graph", functions: [], tasks: [{ key: "k", fnHash: "h", args: bytes, deps: [], priority: 1, retries: 0, workers: ["w"], allowOtherWorkers: true }], wants: [], stimulusId: "s" },
  ],
};

/** Values that break a field of any type in different ways. */
const BROKEN: unknown[] = [undefined, null, "", "x".repeat(1025), "x".repeat(2049), -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, true, [], [""], [Number.NaN], [{}], {}, bytes, new Date(0), 10n];

function schemaSays(op: string, value: unknown): { ok: boolean; output?: unknown } {
  const result = v.safeParse(MESSAGE_SCHEMAS[op as Op], value);
  return result.success ? { ok: true, output: result.output } : { ok: false };
}

function expectAgrees(op: string, value: Record<string, unknown>): void {
  const fast = (FAST_PARSERS[op as Op] as (m: Record<string, unknown>) => unknown)(value);
  if (fast === undefined) return;
  const schema = schemaSays(op, value);
  expect(schema.ok, `fast check accepted what the schema refuses: ${op} ${String(JSON.stringify(value, (_k, x) => (typeof x === "bigint" ? String(x) : x)))}`).toBe(true);
  expect(fast).toStrictEqual(schema.output);
}

describe("the hand-written message checks", () => {
  it("cover the per-task messages", () => {
    expect(Object.keys(FAST_PARSERS).sort()).toEqual(Object.keys(VALID).sort());
  });

  for (const [op, samples] of Object.entries(VALID)) {
    it(`accept valid "${op}" messages exactly as the schema outputs them`, () => {
      for (const sample of samples) {
        const fast = (FAST_PARSERS[op as Op] as (m: Record<string, unknown>) => unknown)(sample);
        expect(fast).toStrictEqual(schemaSays(op, sample).output);
        expect(fast).toBeDefined();
      }
    });

    it(`never accept a "${op}" the schema refuses, whatever field is broken`, () => {
      for (const sample of samples) {
        for (const field of Object.keys(sample)) {
          if (field === "op") continue;
          for (const broken of BROKEN) expectAgrees(op, { ...sample, [field]: broken });
          const value = sample[field];
          if (Array.isArray(value) && value.length > 0) {
            for (const broken of BROKEN) expectAgrees(op, { ...sample, [field]: [broken] });
            if (typeof value[0] === "object" && value[0] !== null && !(value[0] instanceof Uint8Array)) {
              for (const inner of Object.keys(value[0] as object)) {
                for (const broken of BROKEN) expectAgrees(op, { ...sample, [field]: [{ ...(value[0] as object), [inner]: broken }] });
              }
            }
          }
        }
        expectAgrees(op, { ...sample, extra: 1 });
        expectAgrees(op, { ...sample, resources: { GPU: 1 } });
      }
    });
  }

  it("never accept a valid message with one field replaced by a random value that the schema refuses", () => {
    const samples = Object.entries(VALID).flatMap(([op, list]) => list.map((sample) => [op, sample] as const));
    const anything = fc.anything({ withTypedArray: true, withBigInt: true, withNullPrototype: true, withSparseArray: true });
    fc.assert(
      fc.property(fc.constantFrom(...samples), fc.nat(), anything, ([op, sample], pick, value) => {
        const fields = Object.keys(sample).filter((f) => f !== "op");
        const field = fields[pick % fields.length] as string;
        expectAgrees(op, { ...sample, [field]: value });
        const inner = sample[field];
        if (Array.isArray(inner)) expectAgrees(op, { ...sample, [field]: [...inner, value] });
      }),
      { numRuns: 5000 },
    );
  });

  it("never accept a random message the schema refuses", () => {
    const ops = Object.keys(VALID);
    const anything = fc.anything({ withTypedArray: true, withBigInt: true, withNullPrototype: true });
    fc.assert(
      fc.property(fc.constantFrom(...ops), fc.dictionary(fc.constantFrom("key", "fnHash", "args", "deps", "priority", "stimulusId", "nbytes", "typeName", "durationMs", "data", "whoHas", "keys", "functions", "tasks", "wants"), anything, { maxKeys: 9 }), (op, fields) => {
        expectAgrees(op, { ...fields, op });
      }),
      { numRuns: 3000 },
    );
  });
});
