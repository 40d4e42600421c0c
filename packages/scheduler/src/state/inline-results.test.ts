import { describe, expect, test } from "vitest";
import { Sim, task } from "./test-helpers.js";

describe("small results travel with the messages", () => {
  test("a wanted key's result sent with task-finished reaches the client with key-in-memory", () => {
    const h = new Sim();
    h.addClient();
    h.addWorker("w1");
    h.submit([task("small-1")], ["small-1"]);
    const data = new Uint8Array([0x18, 42]);
    const sent = h.finish("small-1", { nbytes: 2, data });
    const announce = sent.find((s) => s.msg.op === "key-in-memory");
    expect(announce?.msg).toMatchObject({ key: "small-1", data });
  });

  test("a key nobody wants keeps no copy on the scheduler", () => {
    const h = new Sim();
    h.addClient();
    h.addWorker("w1");
    h.submit([task("input-1"), task("use-1", ["input-1"])], ["use-1"]);
    h.finish("input-1", { nbytes: 2, data: new Uint8Array([1, 2]) });
    expect(h.state.tasks.get("input-1")?.inline).toBeUndefined();
  });

  test("a client that asks later for a key already in memory gets the bytes too, until it is released", () => {
    const h = new Sim();
    h.addClient("c1");
    h.addClient("c2");
    h.addWorker("w1");
    h.submit([task("small-2")], ["small-2"]);
    const data = new Uint8Array([7]);
    h.finish("small-2", { nbytes: 1, data });
    const later = h.submit([task("small-2")], ["small-2"], { client: "c2" });
    expect(later.find((s) => s.msg.op === "key-in-memory")?.msg).toMatchObject({ data });
    h.release(["small-2"], "c1");
    h.release(["small-2"], "c2");
    expect(h.state.tasks.get("small-2")).toBeUndefined();
  });
});
