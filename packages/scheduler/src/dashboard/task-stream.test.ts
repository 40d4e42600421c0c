import { describe, expect, it } from "vitest";
import { TaskStream } from "./task-stream.js";

const event = (i: number, prefix = "inc", ok = true) => ({ worker: `w${i % 2}`, key: `${prefix}-${i}`, prefix, start: i * 10, stop: i * 10 + 5, ok });

describe("TaskStream", () => {
  it("keeps the newest events up to its capacity and hands out what came after a sequence number", () => {
    const stream = new TaskStream(3);
    expect(stream.since(0)).toEqual([]);
    for (let i = 1; i <= 5; i++) stream.record(event(i));
    expect(stream.lastSeq).toBe(5);
    expect(stream.size).toBe(3);
    expect(stream.since(0).map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(stream.since(3).map((e) => e.key)).toEqual(["inc-4", "inc-5"]);
    expect(stream.since(5)).toEqual([]);
    expect(stream.since(0, 1).map((e) => e.seq)).toEqual([5]);
    // A viewer ahead of this stream (an older scheduler's numbers) gets nothing, not garbage.
    expect(stream.since(99)).toEqual([]);
  });

  it("counts finished and failed tasks per group, beyond what the ring holds", () => {
    const stream = new TaskStream(2);
    stream.record(event(1, "inc"));
    stream.record(event(2, "inc", false));
    stream.record(event(3, "double"));
    stream.record(event(4, "inc"));
    expect(stream.totals).toEqual({ finished: 4, erred: 1 });
    expect(Object.fromEntries(stream.groups)).toEqual({
      double: { finished: 1, erred: 0, lastAt: 35 },
      inc: { finished: 3, erred: 1, lastAt: 45 },
    });
    // Least recently active first.
    expect([...stream.groups.keys()]).toEqual(["double", "inc"]);
  });

  it("refuses a capacity that is not a positive whole number", () => {
    expect(() => new TaskStream(0)).toThrow(RangeError);
    expect(() => new TaskStream(1.5)).toThrow(RangeError);
  });
});
