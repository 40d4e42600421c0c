import { describe, expect, it } from "vitest";
import { decodeFrame, encodeFrame, encodeFrameParts } from "./codec.js";
import { MESSAGE_SCHEMAS, PROTOCOL_VERSION, type Message, type Op } from "./messages.js";
import { parseMessage } from "./parse-message.js";

const err = { name: "TypeError", message: "boom", stack: "TypeError: boom\n    at f", code: "E_X", props: { errno: 2 } };
const fnSpec = { kind: "source" as const, hash: "h1", name: "double", source: "((x) => 2 * x)" };

/** One valid sample of every message. The table must cover every op (checked below). */
const SAMPLES: { [O in Op]: Extract<Message, { op: O }> } = {
  hello: { op: "hello", role: "client", protocol: PROTOCOL_VERSION, secret: "s3cret", name: "c1" },
  welcome: { op: "welcome", id: "w-1", schedulerId: "sched-1" },
  error: { op: "error", code: "SKEIN_ERR_PROTOCOL", message: "bad", inReplyTo: "update-graph" },
  "update-graph": {
    op: "update-graph",
    functions: [fnSpec, { kind: "module", hash: "h2", name: "neg", module: "file:///x.js", export: "neg" }],
    tasks: [{ key: "double-1", fnHash: "h1", args: new Uint8Array([1, 2]), deps: ["a"], priority: 0, retries: 1, workers: ["w"], allowOtherWorkers: false, resources: { GPU: 1 } }],
    wants: ["double-1"],
    stimulusId: "s1",
  },
  "release-keys": { op: "release-keys", keys: ["a", "b"], stimulusId: "s2" },
  "cancel-keys": { op: "cancel-keys", keys: ["a"], force: true, stimulusId: "s3" },
  "fire-and-forget": { op: "fire-and-forget", keys: ["a"], stimulusId: "s15" },
  "retry-keys": { op: "retry-keys", keys: ["a", "b"], stimulusId: "s16" },
  scatter: { op: "scatter", requestId: 4, items: [{ key: "data-1", data: new Uint8Array([9]) }], broadcast: false, stimulusId: "s4" },
  "who-has": { op: "who-has", requestId: 5, keys: ["a"] },
  identity: { op: "identity", requestId: 6 },
  "performance-report": { op: "performance-report", requestId: 7, since: 1_700_000_000_000, title: "my run" },
  "performance-report-reply": { op: "performance-report-reply", requestId: 7, html: "<!doctype html>", error: "none" },
  "retire-workers": { op: "retire-workers", requestId: 8, workers: ["local-0-0", "ws://127.0.0.1:1"], force: false },
  "retire-workers-reply": { op: "retire-workers-reply", requestId: 8, retired: ["local-0-0"], kept: [], error: "no worker named x" },
  "key-in-memory": { op: "key-in-memory", key: "a", nbytes: 8, typeName: "number", whoHas: ["ws://127.0.0.1:1"], data: new Uint8Array([0x18, 42]) },
  "key-erred": { op: "key-erred", key: "b", blame: "a", error: err },
  "key-cancelled": { op: "key-cancelled", key: "a", reason: "cancelled by client" },
  "who-has-reply": { op: "who-has-reply", requestId: 5, whoHas: { a: ["ws://127.0.0.1:1"] } },
  "scatter-reply": { op: "scatter-reply", requestId: 4, stored: [{ key: "data-1", nbytes: 1, whoHas: ["ws://127.0.0.1:1"] }] },
  "identity-reply": {
    op: "identity-reply",
    requestId: 6,
    schedulerId: "sched-1",
    address: "ws://127.0.0.1:8786",
    workers: [{ id: "w-1", name: "local-0-0", address: "ws://127.0.0.1:1", nthreads: 1, memoryLimit: 0, host: "h", pid: 1, status: "running", processing: 0, inMemory: 0, nbytes: 0, resources: {} }],
    tasks: { memory: 2 },
    dashboard: "http://127.0.0.1:8787/?token=abc",
  },
  "workers-changed": { op: "workers-changed", count: 1, names: ["local-0-0"] },
  "define-functions": { op: "define-functions", functions: [fnSpec] },
  "compute-task": { op: "compute-task", key: "a", fnHash: "h1", args: new Uint8Array([1]), deps: [{ key: "b", nbytes: 8, whoHas: ["ws://x"] }], priority: [0, 1], resources: { GPU: 1 }, stimulusId: "s5" },
  "free-keys": { op: "free-keys", keys: ["a"], stimulusId: "s6" },
  "put-data": { op: "put-data", requestId: 1, key: "a", data: new Uint8Array([1]), stimulusId: "s7" },
  "close-worker": { op: "close-worker", reason: "scale down" },
  "acquire-replicas": { op: "acquire-replicas", keys: [{ key: "a", nbytes: 8, whoHas: ["ws://x"] }], stimulusId: "s13" },
  "request-retire": { op: "request-retire", reason: "walltime ends in 60 s", stimulusId: "s14" },
  "steal-request": { op: "steal-request", key: "a", stimulusId: "s15" },
  "steal-response": { op: "steal-response", key: "a", stolen: true, stimulusId: "s16" },
  "register-worker": { op: "register-worker", name: "w", address: "ws://127.0.0.1:1", nthreads: 2, memoryLimit: 0, host: "h", pid: 3, resources: { GPU: 1 }, holding: [] },
  "task-finished": { op: "task-finished", key: "a", nbytes: 8, typeName: "number", durationMs: 0.5, data: new Uint8Array([0x18, 42]), stimulusId: "s8" },
  "task-erred": { op: "task-erred", key: "a", error: err, durationMs: 1, stimulusId: "s9" },
  "keys-added": { op: "keys-added", keys: [{ key: "b", nbytes: 8 }], stimulusId: "s10" },
  "missing-data": { op: "missing-data", key: "a", dep: "b", from: "ws://x", stimulusId: "s11" },
  "data-stored": { op: "data-stored", requestId: 1, key: "a", nbytes: 1, stimulusId: "s12" },
  heartbeat: { op: "heartbeat", executing: 1, ready: 2, inMemory: 3, nbytes: 4, rss: 5 },
  "worker-status": { op: "worker-status", status: "paused", stimulusId: "s17" },
  "get-data": { op: "get-data", requestId: 1, keys: ["a"] },
  "get-logs": { op: "get-logs", requestId: 2 },
  logs: { op: "logs", requestId: 2, lines: ["[skein] worker w-0: something happened"] },
  data: { op: "data", requestId: 1, data: { a: new Uint8Array([1]) }, missing: ["b"] },
};

/** A value of the wrong type for whatever the field holds. */
function wrongValueFor(value: unknown): unknown {
  if (typeof value === "string") return 42;
  if (typeof value === "number") return "42";
  if (typeof value === "boolean") return "yes";
  if (value instanceof Uint8Array) return "not bytes";
  if (Array.isArray(value)) return { not: "an array" };
  return 7;
}

describe("protocol messages", () => {
  it("has a sample for every op", () => {
    expect(Object.keys(SAMPLES).sort()).toEqual(Object.keys(MESSAGE_SCHEMAS).sort());
  });

  for (const [op, sample] of Object.entries(SAMPLES)) {
    it(`round-trips "${op}" through a frame and the parser`, () => {
      const [decoded] = decodeFrame(encodeFrame([sample]));
      expect(parseMessage(decoded)).toEqual(sample);
    });

    it(`round-trips "${op}" as a connection sends it (compact when it has a layout)`, () => {
      const [decoded] = decodeFrame(encodeFrameParts([sample]).frame);
      expect(parseMessage(decoded)).toEqual(sample);
    });

    for (const field of Object.keys(sample)) {
      if (field === "op") continue;
      it(`rejects "${op}" with a wrong-typed ${field}, compact or not`, () => {
        const bad = { ...sample, [field]: wrongValueFor((sample as Record<string, unknown>)[field]) };
        const rejected = expect.objectContaining({ code: "SKEIN_ERR_PROTOCOL", message: expect.stringContaining(field) });
        expect(() => parseMessage(bad)).toThrowError(rejected);
        const [sent] = decodeFrame(encodeFrameParts([bad]).frame);
        expect(() => parseMessage(sent)).toThrowError(rejected);
      });
    }
  }

  it("rejects a missing required field, naming it", () => {
    const { secret: _omit, ...noSecret } = SAMPLES.hello;
    expect(() => parseMessage(noSecret)).toThrow(/hello.*secret/);
  });

  it.each([
    [null, /got null/],
    [[1, 2], /got an array/],
    ["hello", /got string/],
    [{ op: "launch-missiles" }, /unknown op "launch-missiles"/],
    [{ nope: 1 }, /"op" must be a string, got undefined/],
    [{ op: null }, /"op" must be a string, got null/],
  ])("rejects %j", (value, pattern) => {
    expect(() => parseMessage(value)).toThrow(pattern);
  });

  it("rejects an op that JSON cannot print (a BigInt, found by the fuzz test)", () => {
    expect(() => parseMessage({ op: 10n ** 20n })).toThrow(/"op" must be a string, got bigint/);
  });

  it("rejects negative counts and fractional request ids", () => {
    expect(() => parseMessage({ ...SAMPLES["task-finished"], nbytes: -1 })).toThrow(/nbytes/);
    expect(() => parseMessage({ ...SAMPLES["get-data"], requestId: 1.5 })).toThrow(/requestId/);
  });

  it("accepts only running and paused as a worker status", () => {
    expect(parseMessage({ ...SAMPLES["worker-status"], status: "running" })).toMatchObject({ status: "running" });
    expect(() => parseMessage({ ...SAMPLES["worker-status"], status: "sleeping" })).toThrow(/status/);
  });

  it("drops unknown fields instead of passing them through", () => {
    const parsed = parseMessage({ ...SAMPLES["free-keys"], extra: "x" });
    expect(parsed).not.toHaveProperty("extra");
  });

  it("rejects frames that are not CBOR arrays", () => {
    expect(() => decodeFrame(new Uint8Array([0xff, 0x00, 0x13]))).toThrow(/not valid CBOR|must be a CBOR array/);
    expect(() => decodeFrame(encodeFrame({ op: "hello" } as never))).toThrow(/must be a CBOR array/);
  });
});
