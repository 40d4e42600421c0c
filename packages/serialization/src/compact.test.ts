import { describe, expect, it } from "vitest";
import { decodeFrame, encodeFrame, encodeFrameParts } from "./codec.js";
import { packMessage, unpackMessage } from "./compact.js";
import { parseMessage } from "./parse-message.js";

const compute = {
  op: "compute-task",
  key: "add-0f3a",
  fnHash: "h1",
  args: new Uint8Array([1, 2, 3]),
  deps: [
    { key: "inc-1", nbytes: 2, whoHas: ["ws://127.0.0.1:1"] },
    { key: "inc-2", nbytes: 2, whoHas: ["ws://127.0.0.1:1", "ws://127.0.0.1:2"] },
  ],
  priority: [0, 7],
  stimulusId: "s-1",
} as const;
const finished = { op: "task-finished", key: "add-0f3a", nbytes: 2, typeName: "number", durationMs: 0.25, stimulusId: "s-2" } as const;

describe("compact messages", () => {
  it("travel as arrays of their values, nested records too, and come back as the same objects", () => {
    expect(packMessage(compute)).toEqual([1, "add-0f3a", "h1", compute.args, [["inc-1", 2, ["ws://127.0.0.1:1"]], ["inc-2", 2, ["ws://127.0.0.1:1", "ws://127.0.0.1:2"]]], [0, 7], "s-1"]);
    const [decoded] = decodeFrame(encodeFrameParts([compute]).frame);
    expect(parseMessage(decoded)).toEqual(compute);
  });

  it("leave absent optional fields out, and absent they stay", () => {
    expect(packMessage(finished)).toStrictEqual([2, "add-0f3a", 2, "number", 0.25, "s-2"]);
    const [decoded] = decodeFrame(encodeFrameParts([finished]).frame);
    expect(decoded).toEqual(finished);
    expect(decoded).not.toHaveProperty("data");
  });

  it("an absent field between present ones stays absent", () => {
    const task = { key: "k", fnHash: "h", args: new Uint8Array([1]), deps: [], priority: 0, retries: 0, resources: { GPU: 1 } };
    const graph = { op: "update-graph", functions: [], tasks: [task], wants: ["k"], stimulusId: "s" };
    const [decoded] = decodeFrame(encodeFrameParts([graph]).frame);
    expect(parseMessage(decoded)).toEqual(graph);
    expect((decoded as typeof graph).tasks[0]).not.toHaveProperty("workers");
  });

  it("are much smaller than maps", () => {
    const many = Array.from({ length: 100 }, (_, i) => ({ ...compute, key: `add-${i}` }));
    expect(encodeFrameParts(many).frame.byteLength).toBeLessThan(0.8 * encodeFrame(many).byteLength);
  });

  it("leave every other message a map", () => {
    const hello = { op: "hello", role: "client", protocol: 2, secret: "s", name: "n" };
    expect(packMessage(hello)).toBe(hello);
  });

  it("a malformed one fails validation, naming the field or the code", () => {
    expect(() => parseMessage(unpackMessage([1, "k", "h"]))).toThrow(/"compute-task" message has a bad field args/);
    expect(() => parseMessage(unpackMessage([1, "k", "h", new Uint8Array(0), ["not a record"], [0], "s"]))).toThrow(/deps/);
    expect(() => parseMessage(unpackMessage([99, "k"]))).toThrow(/unknown op "\(compact message 99\)"/);
    expect(() => parseMessage(unpackMessage(["compute-task", "k"]))).toThrow(/unknown op "\(compact message string\)"/);
    expect(() => parseMessage(unpackMessage([]))).toThrow(/unknown op/);
  });
});
