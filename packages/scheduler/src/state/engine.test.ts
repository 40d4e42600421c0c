/**
 * The scheduler's state machine end to end: events in, messages out, no sockets. Every Sim runs
 * with `validate: true`, so each step also checks every invariant (./invariants.ts).
 */
import { SKEIN_ERROR_CODES } from "@skein/serialization";
import { describe, expect, test } from "vitest";
import { occupancyOf } from "../placement.js";
import { addressOf, argsOf, computes, fnSpec, ops, Sim, task, userError, type Sent } from "./test-helpers.js";

/** The scheduler's priority tuple: [-user priority, submission order]. */
const prio = (user: number, seq: number) => [-user, seq];

function compute(worker: string, key: string, deps: [string, number, string[]][], priority: number[]): Sent {
  return {
    worker,
    msg: {
      op: "compute-task",
      key,
      fnHash: `h-${key.slice(0, key.lastIndexOf("-"))}`,
      args: argsOf(key),
      deps: deps.map(([k, nbytes, holders]) => ({ key: k, nbytes, whoHas: holders.map(addressOf) })),
      priority,
    },
  };
}
const define = (worker: string, ...hashes: string[]): Sent => ({ worker, msg: { op: "define-functions", functions: hashes.map(fnSpec) } });
const free = (worker: string, ...keys: string[]): Sent => ({ worker, msg: { op: "free-keys", keys } });
const inMemory = (client: string, key: string, holders: string[], nbytes = 8, typeName = "number"): Sent => ({
  client,
  msg: { op: "key-in-memory", key, nbytes, typeName, whoHas: holders.map(addressOf) },
});

function sim(workers: string[] = [], config: ConstructorParameters<typeof Sim>[0] = {}): Sim {
  const h = new Sim(config);
  h.addClient("c1");
  for (const w of workers) h.addWorker(w);
  return h;
}

describe("clients and workers", () => {
  test("client-added registers the client and sends nothing", () => {
    const h = new Sim();
    expect(h.addClient("c1")).toEqual([]);
    expect([...h.state.clients.values()].map((c) => c.name)).toEqual(["c1"]);
  });

  test("worker-added and worker-removed tell every client the current worker names", () => {
    const h = new Sim();
    h.addClient("c1");
    h.addClient("c2");
    expect(h.addWorker("w1")).toEqual([
      { client: "c1", msg: { op: "workers-changed", count: 1, names: ["w1"] } },
      { client: "c2", msg: { op: "workers-changed", count: 1, names: ["w1"] } },
    ]);
    h.addWorker("w2");
    expect(h.removeWorker("w1")).toEqual([
      { client: "c1", msg: { op: "workers-changed", count: 1, names: ["w2"] } },
      { client: "c2", msg: { op: "workers-changed", count: 1, names: ["w2"] } },
    ]);
  });

  test("events from clients and workers the scheduler does not know are ignored", () => {
    const h = sim(["w1"]);
    expect(h.submit([task("a-1")], ["a-1"], { client: "ghost" })).toEqual([]);
    expect(h.release(["a-1"], "ghost")).toEqual([]);
    expect(h.cancel(["a-1"], { client: "ghost" })).toEqual([]);
    expect(h.finish("a-1", { worker: "w9" })).toEqual([]);
    expect(h.fail("a-1", { worker: "w9" })).toEqual([]);
    expect(h.removeWorker("w9")).toEqual([]);
    expect(h.removeClient("ghost")).toEqual([]);
    expect(h.state.tasks.size).toBe(0);
  });

  test("client-removed releases what it wanted: running tasks are freed and forgotten", () => {
    const h = sim(["w1"]);
    h.submit([task("a-1"), task("b-1", ["a-1"])], ["b-1"]);
    h.finish("a-1");
    expect(h.removeClient("c1")).toEqual([free("w1", "b-1"), free("w1", "a-1")]);
    expect(h.state.tasks.size).toBe(0);
    expect(h.state.clients.size).toBe(0);
  });
});

describe("a chain a→b→c on one worker", () => {
  test("each result starts the next task where its input is, and frees the input", () => {
    const h = sim(["w1"]);
    expect(h.submit([task("a-1"), task("b-1", ["a-1"]), task("c-1", ["b-1"])], ["c-1"])).toEqual([
      define("w1", "h-a"),
      compute("w1", "a-1", [], prio(0, 0)),
    ]);
    expect(h.statuses(["a-1", "b-1", "c-1"])).toEqual({ "a-1": "processing", "b-1": "waiting", "c-1": "waiting" });

    expect(h.finish("a-1")).toEqual([define("w1", "h-b"), compute("w1", "b-1", [["a-1", 8, ["w1"]]], prio(0, 1))]);
    expect(h.finish("b-1", { nbytes: 80 })).toEqual([
      define("w1", "h-c"),
      compute("w1", "c-1", [["b-1", 80, ["w1"]]], prio(0, 2)),
      free("w1", "a-1"),
    ]);
    expect(h.finish("c-1", { typeName: "Array" })).toEqual([inMemory("c1", "c-1", ["w1"], 8, "Array"), free("w1", "b-1")]);
    expect(h.statuses(["a-1", "b-1", "c-1"])).toEqual({ "a-1": "released", "b-1": "released", "c-1": "memory" });
    expect(h.worker("w1").processing.size).toBe(0);
    expect([...h.worker("w1").hasWhat].map((t) => t.key)).toEqual(["c-1"]);
  });

  test("keys-released frees the result and forgets the whole chain", () => {
    const h = sim(["w1"]);
    h.submit([task("a-1"), task("b-1", ["a-1"]), task("c-1", ["b-1"])], ["c-1"]);
    h.runAll();
    expect(h.release(["c-1"])).toEqual([free("w1", "c-1")]);
    expect(h.state.tasks.size).toBe(0);
    expect(h.worker("w1").hasWhat.size).toBe(0);
    expect(h.worker("w1").nbytes).toBe(0);
    expect(h.state.story.of("a-1").map((e) => `${e.from}->${e.to}`)).toEqual([
      "released->waiting",
      "waiting->processing",
      "processing->memory",
      "memory->released",
      "released->forgotten",
    ]);
  });

  test("messages carry the stimulus id of the event that caused them", () => {
    const h = sim(["w1"]);
    h.submit([task("a-1"), task("b-1", ["a-1"])], ["b-1"], { stimulusId: "update-7" });
    expect(h.lastRaw.map((e) => ("stimulusId" in e.message ? e.message.stimulusId : "-"))).toEqual(["-", "update-7"]);
    h.finish("a-1", { stimulusId: "done-a" });
    const compute = h.lastRaw.find((e) => e.message.op === "compute-task");
    expect(compute?.message).toMatchObject({ key: "b-1", stimulusId: "done-a" });
    expect(h.state.story.of("b-1").at(-1)).toMatchObject({ from: "waiting", to: "processing", stimulusId: "done-a" });
  });

  test("a function is defined once per worker", () => {
    const h = sim(["w1"]);
    const keys = ["inc-1", "inc-2", "inc-3", "inc-4"];
    expect(ops(h.submit(keys.map((k) => task(k)), keys), "define-functions")).toEqual([define("w1", "h-inc")]);
    const later = h.runAll();
    expect(computes(later)).toEqual([
      ["w1", "inc-3"],
      ["w1", "inc-4"],
    ]);
    expect(ops(later, "define-functions")).toEqual([]);
    h.addWorker("w2");
    expect(ops(h.submit([task("inc-5", [], { workers: ["w2"] })], ["inc-5"]), "define-functions")).toEqual([define("w2", "h-inc")]);
  });
});

describe("graph shapes", () => {
  test("fan-in: map/map/sum over 48 inputs computes each task once and frees every intermediate", () => {
    const h = new Sim();
    h.addClient("c1");
    h.addWorker("w1", { nthreads: 2 });
    h.addWorker("w2", { nthreads: 2 });
    const n = 48;
    const tasks = [
      ...Array.from({ length: n }, (_, i) => task(`inc-${i}`)),
      ...Array.from({ length: n }, (_, i) => task(`double-${i}`, [`inc-${i}`])),
      task("sum-0", Array.from({ length: n }, (_, i) => `double-${i}`)),
    ];
    const first = h.submit(tasks, ["sum-0"]);
    // Root tasks are sent only up to saturation (2 per thread); the rest wait on the scheduler.
    expect(computes(first)).toHaveLength(8);
    expect(h.state.queued.size).toBe(n - 8);

    const rest = h.runAll();
    const all = [...first, ...rest];
    const computed = computes(all).map(([, key]) => key);
    expect(computed).toHaveLength(2 * n + 1);
    expect(new Set(computed).size).toBe(2 * n + 1);
    expect(computed.at(-1)).toBe("sum-0");
    expect(ops(all, "key-in-memory")).toEqual([inMemory("c1", "sum-0", h.whoHas("sum-0"))]);
    // Every intermediate is freed exactly once (Sim checks it was the worker that held it).
    const freed = ops(all, "free-keys").flatMap((s) => (s.msg.op === "free-keys" ? s.msg.keys : []));
    expect(freed.sort()).toEqual(tasks.slice(0, 2 * n).map((t) => t.key).sort());
    expect(h.state.queued.size).toBe(0);
    for (const t of tasks.slice(0, 2 * n)) expect(h.status(t.key)).toBe("released");
    expect(h.worker("w1").hasWhat.size + h.worker("w2").hasWhat.size).toBe(1);

    // Both workers took part.
    const perWorker = new Map<string, number>();
    for (const [w] of computes(all)) perWorker.set(w, (perWorker.get(w) ?? 0) + 1);
    expect(perWorker.get("w1")).toBeGreaterThan(10);
    expect(perWorker.get("w2")).toBeGreaterThan(10);

    const [holder] = h.whoHas("sum-0");
    expect(h.release(["sum-0"])).toEqual([free(holder as string, "sum-0")]);
    expect(h.state.tasks.size).toBe(0);
  });

  test("fan-out: one input read by 10 tasks is freed only after the last of them finishes", () => {
    const h = sim(["w1", "w2"]);
    const procs = Array.from({ length: 10 }, (_, i) => `proc-${i}`);
    h.submit([task("load-0"), ...procs.map((k) => task(k, ["load-0"]))], procs);
    const fanned = h.finish("load-0", { nbytes: 1000 });
    // Dependents are not root tasks: all go out at once, each told where the input lives.
    expect(computes(fanned).map(([, k]) => k)).toEqual(procs);
    for (const s of ops(fanned, "compute-task")) {
      expect(s.msg).toMatchObject({ deps: [{ key: "load-0", nbytes: 1000, whoHas: [addressOf("w1")] }] });
    }

    for (const k of procs.slice(0, -1)) {
      const where = h.processingOn(k);
      expect(h.finish(k)).toEqual([inMemory("c1", k, [where])]);
    }
    const last = procs.at(-1) as string;
    const holder = h.processingOn(last);
    expect(h.finish(last)).toEqual([inMemory("c1", last, [holder]), free("w1", "load-0")]);
    expect(h.status("load-0")).toBe("released");
  });
});

describe("locality", () => {
  test("with 2 workers and tiny results, neg(multiply(x)) runs where multiply(x) ran", () => {
    const h = sim(["w1", "w2"]);
    // Keep w1 busy so that x lands on w2: the test must not pass just because w1 comes first.
    h.submit([task("busy-0")], ["busy-0"]);
    expect(h.processingOn("busy-0")).toBe("w1");
    h.submit([task("x-1"), task("multiply-1", ["x-1"]), task("neg-1", ["multiply-1"])], ["neg-1"]);
    expect(h.processingOn("x-1")).toBe("w2");

    expect(computes(h.finish("x-1", { nbytes: 8 }))).toEqual([["w2", "multiply-1"]]);
    h.finish("busy-0"); // w1 is idle again: only locality keeps neg on w2
    expect(h.worker("w1").processing.size).toBe(0);
    expect(computes(h.finish("multiply-1", { nbytes: 8 }))).toEqual([["w2", "neg-1"]]);
  });

  test("a task with inputs on two workers runs where most of the bytes are", () => {
    const h = sim(["w1", "w2"]);
    h.submit([task("big-1"), task("small-1"), task("z-1", ["big-1", "small-1"])], ["z-1"]);
    expect([h.processingOn("big-1"), h.processingOn("small-1")]).toEqual(["w1", "w2"]);
    h.finish("small-1", { nbytes: 8 });
    expect(computes(h.finish("big-1", { nbytes: 50_000_000 }))).toEqual([["w1", "z-1"]]);

    const h2 = sim(["w1", "w2"]);
    h2.submit([task("big-1"), task("small-1"), task("z-1", ["big-1", "small-1"])], ["z-1"]);
    h2.finish("small-1", { nbytes: 50_000_000 });
    expect(computes(h2.finish("big-1", { nbytes: 8 }))).toEqual([["w2", "z-1"]]);
  });
});

describe("results, wants and freeing", () => {
  test("key-in-memory goes to the clients that want the key, and only to them", () => {
    const h = sim(["w1"]);
    h.addClient("c2");
    h.submit([task("x-1")], ["x-1"]);
    h.submit([task("y-1", ["x-1"])], ["y-1"], { client: "c2" });
    expect(h.finish("x-1")).toEqual([inMemory("c1", "x-1", ["w1"]), define("w1", "h-y"), compute("w1", "y-1", [["x-1", 8, ["w1"]]], prio(0, 1))]);
    expect(ops(h.finish("y-1"), "key-in-memory")).toEqual([inMemory("c2", "y-1", ["w1"])]);
  });

  test("a dependency a client still wants is kept after its dependents finish", () => {
    const h = sim(["w1"]);
    h.submit([task("x-1"), task("y-1", ["x-1"])], ["x-1", "y-1"]);
    h.finish("x-1");
    expect(h.finish("y-1")).toEqual([inMemory("c1", "y-1", ["w1"])]);
    expect(h.status("x-1")).toBe("memory");
    // Released by the client: freed, but remembered as y's input until y goes too.
    expect(h.release(["x-1"])).toEqual([free("w1", "x-1")]);
    expect(h.status("x-1")).toBe("released");
    expect(h.release(["y-1"])).toEqual([free("w1", "y-1")]);
    expect(h.state.tasks.size).toBe(0);
  });

  test("a client asking for a key already in memory is told at once", () => {
    const h = sim(["w1"]);
    h.addClient("c2");
    h.submit([task("x-1")], ["x-1"]);
    h.finish("x-1");
    expect(h.submit([task("x-1")], ["x-1"], { client: "c2" })).toEqual([inMemory("c2", "x-1", ["w1"])]);
    // c1 lets go; c2 still holds it.
    expect(h.release(["x-1"], "c1")).toEqual([]);
    expect(h.status("x-1")).toBe("memory");
    expect(h.release(["x-1"], "c2")).toEqual([free("w1", "x-1")]);
    expect(h.status("x-1")).toBe("forgotten");
  });

  test("releasing a key that is still computing frees it on its worker and forgets it", () => {
    const h = sim(["w1"]);
    h.submit([task("a-1"), task("b-1", ["a-1"])], ["b-1"]);
    expect(h.release(["b-1"])).toEqual([free("w1", "a-1")]);
    expect(h.state.tasks.size).toBe(0);
    expect(h.worker("w1").processing.size).toBe(0);
    expect(occupancyOf(h.state, h.worker("w1"))).toBe(0);
    // The worker's late answer is unwanted: it is told to drop it.
    expect(h.finish("a-1", { worker: "w1" })).toEqual([free("w1", "a-1")]);
  });

  test("keys-added records a replica; keys the scheduler does not hold in memory are freed", () => {
    const h = sim(["w1", "w2"]);
    h.submit([task("x-1")], ["x-1"]);
    h.finish("x-1");
    expect(h.keysAdded("w2", [{ key: "x-1", nbytes: 8 }, { key: "nope-1", nbytes: 8 }])).toEqual([free("w2", "nope-1")]);
    expect(h.whoHas("x-1")).toEqual(["w1", "w2"]);
    expect(h.release(["x-1"])).toEqual([free("w1", "x-1"), free("w2", "x-1")]);
  });

  test("two clients submitting the same graph share one computation", () => {
    const h = sim(["w1"]);
    h.addClient("c2");
    const graph = [task("a-1"), task("b-1", ["a-1"])];
    expect(computes(h.submit(graph, ["b-1"]))).toEqual([["w1", "a-1"]]);
    expect(h.submit(graph, ["b-1"], { client: "c2" })).toEqual([]);
    h.finish("a-1");
    expect(h.finish("b-1")).toEqual([inMemory("c1", "b-1", ["w1"]), inMemory("c2", "b-1", ["w1"]), free("w1", "a-1")]);
  });

  test("a key one client releases stays while another client's task still reads it", () => {
    const h = sim(["w1"]);
    h.addClient("c2");
    h.submit([task("x-1")], ["x-1"]);
    h.submit([task("y-1", ["x-1"])], ["y-1"], { client: "c2" });
    expect(h.release(["x-1"])).toEqual([]);
    expect(computes(h.finish("x-1"))).toEqual([["w1", "y-1"]]);
    expect(h.finish("y-1")).toEqual([inMemory("c2", "y-1", ["w1"]), free("w1", "x-1")]);
  });

  test("a duplicate result for a key in memory adds a replica and sends nothing", () => {
    const h = sim(["w1", "w2"]);
    h.submit([task("x-1")], ["x-1"]);
    h.finish("x-1");
    expect(h.finish("x-1", { worker: "w2" })).toEqual([]);
    expect(h.whoHas("x-1")).toEqual(["w1", "w2"]);
  });
});

describe("failures and retries", () => {
  test("task-erred with retries left sends the task again and tells the client nothing", () => {
    const h = sim(["w1"]);
    h.submit([task("flaky-1", [], { retries: 2 })], ["flaky-1"]);
    const retried = h.fail("flaky-1");
    expect(computes(retried)).toEqual([["w1", "flaky-1"]]);
    expect(retried.filter((s) => "client" in s)).toEqual([]);
    expect(h.status("flaky-1")).toBe("processing");
    expect(h.task("flaky-1").retries).toBe(1);
    expect(computes(h.fail("flaky-1"))).toEqual([["w1", "flaky-1"]]);
    expect(h.finish("flaky-1")).toEqual([inMemory("c1", "flaky-1", ["w1"])]);
  });

  test("without retries: key-erred to the client with blame, and dependents erred with the same blame", () => {
    const h = sim(["w1"]);
    h.addClient("c2");
    h.submit([task("a-1"), task("b-1", ["a-1"]), task("c-1", ["b-1"])], ["b-1", "c-1"]);
    h.submit([], ["c-1"], { client: "c2" });
    const error = userError("division by zero");
    expect(h.fail("a-1", { error })).toEqual([
      { client: "c1", msg: { op: "key-erred", key: "b-1", blame: "a-1", error } },
      { client: "c1", msg: { op: "key-erred", key: "c-1", blame: "a-1", error } },
      { client: "c2", msg: { op: "key-erred", key: "c-1", blame: "a-1", error } },
    ]);
    expect(h.statuses(["a-1", "b-1", "c-1"])).toEqual({ "a-1": "erred", "b-1": "erred", "c-1": "erred" });
    expect(h.task("c-1").exceptionBlame?.key).toBe("a-1");
  });

  test("an erred task's inputs are freed", () => {
    const h = sim(["w1"]);
    h.submit([task("a-1"), task("b-1", ["a-1"])], ["b-1"]);
    h.finish("a-1");
    expect(h.fail("b-1")).toEqual([{ client: "c1", msg: { op: "key-erred", key: "b-1", blame: "b-1", error: userError() } }, free("w1", "a-1")]);
  });

  test("when one input fails, the other input still running is cancelled on its worker", () => {
    const h = sim(["w1", "w2"]);
    h.submit([task("a-1"), task("b-1"), task("c-1", ["a-1", "b-1"])], ["c-1"]);
    expect([h.processingOn("a-1"), h.processingOn("b-1")]).toEqual(["w1", "w2"]);
    expect(h.fail("a-1")).toEqual([
      { client: "c1", msg: { op: "key-erred", key: "c-1", blame: "a-1", error: userError() } },
      free("w2", "b-1"),
    ]);
    // b's late result is no longer wanted.
    expect(h.finish("b-1", { worker: "w2" })).toEqual([free("w2", "b-1")]);
  });

  test("retries run out one by one, then the error reaches the client", () => {
    const h = sim(["w1"]);
    h.submit([task("flaky-1", [], { retries: 1 })], ["flaky-1"]);
    expect(computes(h.fail("flaky-1"))).toEqual([["w1", "flaky-1"]]);
    expect(ops(h.fail("flaky-1"), "key-erred")).toEqual([{ client: "c1", msg: { op: "key-erred", key: "flaky-1", blame: "flaky-1", error: userError() } }]);
  });

  test("a new graph built on an erred key fails at once with the original blame", () => {
    const h = sim(["w1"]);
    h.submit([task("a-1")], ["a-1"]);
    h.fail("a-1");
    expect(h.submit([task("d-1", ["a-1"])], ["d-1"])).toEqual([
      { client: "c1", msg: { op: "key-erred", key: "d-1", blame: "a-1", error: userError() } },
    ]);
    // Asking again for the erred key itself repeats the error.
    expect(h.submit([], ["a-1"])).toEqual([{ client: "c1", msg: { op: "key-erred", key: "a-1", blame: "a-1", error: userError() } }]);
  });

  test("releasing erred keys forgets them and the failed dependency", () => {
    const h = sim(["w1"]);
    h.submit([task("a-1"), task("b-1", ["a-1"])], ["a-1", "b-1"]);
    h.fail("a-1");
    expect(h.release(["a-1"])).toEqual([]);
    expect(h.status("a-1")).toBe("released"); // b-1 still names it as its blame
    expect(h.release(["b-1"])).toEqual([]);
    expect(h.state.tasks.size).toBe(0);
  });
});

describe("cancel", () => {
  test("keys-cancelled: key-cancelled to the client, the processing task freed on its worker, dependents cancelled", () => {
    const h = sim(["w1"]);
    h.submit([task("x-1"), task("y-1", ["x-1"]), task("z-1", ["y-1"])], ["x-1", "z-1"]);
    expect(h.cancel(["x-1"])).toEqual([
      { client: "c1", msg: { op: "key-cancelled", key: "x-1", reason: "cancelled" } },
      { client: "c1", msg: { op: "key-cancelled", key: "z-1", reason: "its dependency y-1 was cancelled" } },
      free("w1", "x-1"),
    ]);
    expect(h.state.tasks.size).toBe(0);
    expect(h.worker("w1").processing.size).toBe(0);
  });

  test("without force, another client's interest survives the cancel", () => {
    const h = sim(["w1"]);
    h.addClient("c2");
    h.submit([task("x-1")], ["x-1"]);
    h.submit([], ["x-1"], { client: "c2" });
    expect(h.cancel(["x-1"])).toEqual([{ client: "c1", msg: { op: "key-cancelled", key: "x-1", reason: "cancelled" } }]);
    expect(h.status("x-1")).toBe("processing");
    expect(h.finish("x-1")).toEqual([inMemory("c2", "x-1", ["w1"])]);
  });

  test("with force, every client is told and the task is dropped", () => {
    const h = sim(["w1"]);
    h.addClient("c2");
    h.submit([task("x-1")], ["x-1"]);
    h.submit([], ["x-1"], { client: "c2" });
    expect(h.cancel(["x-1"], { force: true })).toEqual([
      { client: "c1", msg: { op: "key-cancelled", key: "x-1", reason: "cancelled (forced)" } },
      { client: "c2", msg: { op: "key-cancelled", key: "x-1", reason: "cancelled (forced)" } },
      free("w1", "x-1"),
    ]);
    expect(h.status("x-1")).toBe("forgotten");
  });

  test("cancelling a key in memory drops the interest and frees the result; its dependents are not touched", () => {
    const h = sim(["w1"]);
    h.submit([task("x-1"), task("y-1", ["x-1"])], ["x-1", "y-1"]);
    h.finish("x-1");
    expect(h.cancel(["x-1"])).toEqual([{ client: "c1", msg: { op: "key-cancelled", key: "x-1", reason: "cancelled" } }]);
    expect(h.status("y-1")).toBe("processing");
    expect(h.finish("y-1")).toEqual([inMemory("c1", "y-1", ["w1"]), free("w1", "x-1")]);
  });

  test("a cancelled queued task is never sent", () => {
    const h = sim(["w1"]);
    const keys = Array.from({ length: 5 }, (_, i) => `r-${i}`);
    h.submit(keys.map((k) => task(k)), keys);
    expect(h.statuses(keys)).toEqual({ "r-0": "processing", "r-1": "processing", "r-2": "queued", "r-3": "queued", "r-4": "queued" });
    expect(h.cancel(["r-3"])).toEqual([{ client: "c1", msg: { op: "key-cancelled", key: "r-3", reason: "cancelled" } }]);
    expect(h.state.queued.size).toBe(2);
    expect(computes(h.runAll()).map(([, k]) => k)).toEqual(["r-2", "r-4"]);
  });

  test("cancelling running root tasks opens their slots for queued ones", () => {
    const h = sim(["w1"]);
    const keys = Array.from({ length: 6 }, (_, i) => `r-${i}`);
    h.submit(keys.map((k) => task(k)), keys);
    const sent = h.cancel(["r-0", "r-1"]);
    expect(ops(sent, "free-keys")).toEqual([free("w1", "r-0"), free("w1", "r-1")]);
    expect(computes(sent)).toEqual([
      ["w1", "r-2"],
      ["w1", "r-3"],
    ]);
    expect(h.worker("w1").processing.size).toBe(2);
  });

  test("a client leaving frees its running tasks' slots for another client's queued tasks", () => {
    const h = sim(["w1"]);
    h.addClient("c2");
    h.submit([task("p-0"), task("p-1")], ["p-0", "p-1"]);
    h.submit([task("hi-0", [], { priority: 10 })], ["hi-0"]); // queued, and first in line
    h.submit([task("lo-0")], ["lo-0"], { client: "c2" });
    expect(h.state.queued.size).toBe(2);
    const sent = h.removeClient("c1");
    expect(ops(sent, "free-keys")).toEqual([free("w1", "p-0"), free("w1", "p-1")]);
    expect(computes(sent)).toEqual([["w1", "lo-0"]]);
    expect(h.statuses(["hi-0", "lo-0"])).toEqual({ "hi-0": "forgotten", "lo-0": "processing" });
  });

  test("cancelling a task in no-worker drops it", () => {
    const h = sim([]);
    h.submit([task("x-1")], ["x-1"]);
    expect(h.status("x-1")).toBe("no-worker");
    expect(h.cancel(["x-1"])).toEqual([{ client: "c1", msg: { op: "key-cancelled", key: "x-1", reason: "cancelled" } }]);
    expect(h.state.noWorker.size).toBe(0);
    expect(h.addWorker("w1")).toEqual([{ client: "c1", msg: { op: "workers-changed", count: 1, names: ["w1"] } }]);
  });
});

describe("worker-removed", () => {
  test("processing tasks are rescheduled on the remaining workers", () => {
    const h = sim(["w1", "w2"]);
    h.submit([task("a-1"), task("b-1")], ["a-1", "b-1"]);
    expect([h.processingOn("a-1"), h.processingOn("b-1")]).toEqual(["w1", "w2"]);
    expect(h.removeWorker("w1")).toEqual([
      { client: "c1", msg: { op: "workers-changed", count: 1, names: ["w2"] } },
      define("w2", "h-a"),
      compute("w2", "a-1", [], prio(0, 0)),
    ]);
    expect(h.task("a-1").suspicious).toEqual(["w1"]);
  });

  test("lineage: results only the dead worker held are recomputed when still needed", () => {
    const h = sim(["w1", "w2"]);
    h.submit([task("a-1"), task("b-1", ["a-1"]), task("c-1", ["b-1"])], ["c-1"]);
    h.finish("a-1");
    h.finish("b-1");
    expect(h.processingOn("c-1")).toBe("w1");
    expect(h.status("a-1")).toBe("released");
    // w1 dies while running c, holding b (its only copy); a was freed long ago.
    const sent = h.removeWorker("w1");
    expect(computes(sent)).toEqual([["w2", "a-1"]]);
    expect(h.statuses(["a-1", "b-1", "c-1"])).toEqual({ "a-1": "processing", "b-1": "waiting", "c-1": "waiting" });
    expect(computes(h.finish("a-1"))).toEqual([["w2", "b-1"]]);
    expect(h.finish("b-1")).toEqual([define("w2", "h-c"), compute("w2", "c-1", [["b-1", 8, ["w2"]]], prio(0, 2)), free("w2", "a-1")]);
    expect(h.finish("c-1")).toEqual([inMemory("c1", "c-1", ["w2"]), free("w2", "b-1")]);
  });

  test("a result the client wants is recomputed when its only holder dies", () => {
    const h = sim(["w1", "w2"]);
    h.submit([task("x-1")], ["x-1"]);
    h.finish("x-1");
    expect(computes(h.removeWorker("w1"))).toEqual([["w2", "x-1"]]);
    expect(h.finish("x-1")).toEqual([inMemory("c1", "x-1", ["w2"])]);
  });

  test("a result with a copy elsewhere is not recomputed", () => {
    const h = sim(["w1", "w2"]);
    h.submit([task("x-1")], ["x-1"]);
    h.finish("x-1");
    h.keysAdded("w2", [{ key: "x-1", nbytes: 8 }]);
    expect(h.removeWorker("w1")).toEqual([{ client: "c1", msg: { op: "workers-changed", count: 1, names: ["w2"] } }]);
    expect(h.status("x-1")).toBe("memory");
    expect(h.whoHas("x-1")).toEqual(["w2"]);
  });

  test("an input lost in the same event as the only task reading it failed is not recomputed", () => {
    const h = sim(["w1", "w2"], { allowedFailures: 1 });
    const onW1 = { workers: ["w1"], allowOtherWorkers: true };
    h.submit([task("x-1", [], onW1), task("z-1", [], onW1), task("y-1", ["x-1", "z-1"])], ["y-1"]);
    h.finish("x-1");
    expect(h.processingOn("z-1")).toBe("w1");
    // w1 held x and ran z: z fails (its first death is the limit here), so y fails, so nobody needs x.
    const sent = h.removeWorker("w1");
    expect(computes(sent)).toEqual([]);
    expect(ops(sent, "key-erred")).toEqual([
      { client: "c1", msg: { op: "key-erred", key: "y-1", blame: "z-1", error: expect.objectContaining({ code: SKEIN_ERROR_CODES.KILLED_WORKER }) } },
    ]);
    expect(h.statuses(["x-1", "y-1", "z-1"])).toEqual({ "x-1": "released", "y-1": "erred", "z-1": "erred" });
    expect(h.release(["y-1"])).toEqual([]);
    expect(h.state.tasks.size).toBe(0);
  });

  test("a task that was running on 3 workers that died fails with SKEIN_ERR_KILLED_WORKER", () => {
    const h = sim(["w1", "w2", "w3", "w4"]);
    h.submit([task("bomb-1")], ["bomb-1"]);
    expect(h.processingOn("bomb-1")).toBe("w1");
    h.removeWorker("w1");
    h.removeWorker(h.processingOn("bomb-1"));
    const third = h.processingOn("bomb-1");
    const sent = h.removeWorker(third, { reason: "exit code 137" });
    expect(computes(sent)).toEqual([]);
    expect(ops(sent, "key-erred")).toEqual([
      {
        client: "c1",
        msg: {
          op: "key-erred",
          key: "bomb-1",
          blame: "bomb-1",
          error: expect.objectContaining({ name: "KilledWorkerError", code: SKEIN_ERROR_CODES.KILLED_WORKER }),
        },
      },
    ]);
    const error = h.task("bomb-1").exception;
    expect(error?.message).toContain("exit code 137");
    expect(error?.message).toMatch(/running on 3 workers that died \(w1, w\d, w\d; last: exit code 137\)/);
    expect(h.status("bomb-1")).toBe("erred");
  });

  test("graceful removal does not count towards the killed-worker limit", () => {
    const h = sim(["w1", "w2", "w3", "w4"]);
    h.submit([task("slow-1")], ["slow-1"]);
    for (let i = 0; i < 3; i++) h.removeWorker(h.processingOn("slow-1"), { graceful: true, reason: "scale down" });
    expect(h.status("slow-1")).toBe("processing");
    expect(h.task("slow-1").suspicious).toBeUndefined();
    expect(h.finish("slow-1")).toEqual([inMemory("c1", "slow-1", ["w4"])]);
  });

  test("removing the last worker parks processing and queued tasks in no-worker until one joins", () => {
    const h = sim(["w1"]);
    const keys = Array.from({ length: 4 }, (_, i) => `r-${i}`);
    h.submit(keys.map((k) => task(k)), keys);
    h.removeWorker("w1");
    expect(h.statuses(keys)).toEqual({ "r-0": "no-worker", "r-1": "no-worker", "r-2": "no-worker", "r-3": "no-worker" });
    const sent = h.addWorker("w2");
    expect(computes(sent)).toEqual([
      ["w2", "r-0"],
      ["w2", "r-1"],
    ]);
    expect(h.statuses(keys)).toEqual({ "r-0": "processing", "r-1": "processing", "r-2": "queued", "r-3": "queued" });
    expect(ops(h.runAll(), "key-in-memory")).toHaveLength(4);
  });

  test("a late result from a removed worker is ignored", () => {
    const h = sim(["w1", "w2"]);
    h.submit([task("x-1")], ["x-1"]);
    h.removeWorker("w1");
    expect(h.finish("x-1", { worker: "w1" })).toEqual([]);
    expect(h.processingOn("x-1")).toBe("w2");
  });
});

describe("missing-data", () => {
  function setup() {
    const h = sim(["w1", "w2"]);
    h.submit([task("busy-0")], ["busy-0"]); // occupies w1
    h.submit([task("a-1", [], { workers: ["w1"] }), task("b-1", ["a-1"], { workers: ["w2"] })], ["b-1"]);
    h.finish("busy-0");
    h.finish("a-1");
    expect(h.processingOn("b-1")).toBe("w2");
    return h;
  }

  test("a dependency the peer did not have is recomputed, then the task placed again", () => {
    const h = setup();
    const sent = h.missingData({ worker: "w2", key: "b-1", dep: "a-1", from: addressOf("w1") });
    expect(sent).toEqual([free("w2", "b-1"), compute("w1", "a-1", [], prio(0, 1))]);
    expect(h.statuses(["a-1", "b-1"])).toEqual({ "a-1": "processing", "b-1": "waiting" });
    expect(h.finish("a-1")).toEqual([compute("w2", "b-1", [["a-1", 8, ["w1"]]], prio(0, 2))]);
  });

  test("a dependency still held elsewhere is fetched from there", () => {
    const h = setup();
    h.addWorker("w3");
    h.keysAdded("w3", [{ key: "a-1", nbytes: 8 }]);
    const sent = h.missingData({ worker: "w2", key: "b-1", dep: "a-1", from: addressOf("w1") });
    expect(sent).toEqual([free("w2", "b-1"), compute("w2", "b-1", [["a-1", 8, ["w3"]]], prio(0, 2))]);
    expect(h.whoHas("a-1")).toEqual(["w3"]);
  });

  test("a result that arrives after all, while its task waits again, is used and the recomputation dropped", () => {
    const h = setup();
    h.missingData({ worker: "w2", key: "b-1", dep: "a-1", from: addressOf("w1") });
    expect(h.processingOn("a-1")).toBe("w1");
    // w2 found a-1 after all and finished b-1 anyway.
    expect(h.finish("b-1", { worker: "w2" })).toEqual([inMemory("c1", "b-1", ["w2"]), free("w1", "a-1")]);
    expect(h.statuses(["a-1", "b-1"])).toEqual({ "a-1": "released", "b-1": "memory" });
  });

  test("a report about a task not running there only corrects the replica records", () => {
    const h = setup();
    h.addWorker("w3");
    h.keysAdded("w3", [{ key: "a-1", nbytes: 8 }]);
    expect(h.missingData({ worker: "w3", key: "other-1", dep: "a-1", from: addressOf("w1") })).toEqual([]);
    expect(h.whoHas("a-1")).toEqual(["w3"]);
    expect(h.processingOn("b-1")).toBe("w2");
  });
});

describe("scatter", () => {
  test("scatter-requested spreads put-data over the least loaded workers", () => {
    const h = sim(["w1", "w2"]);
    const sent = h.scatter([{ key: "d-1" }, { key: "d-2" }, { key: "d-3" }], { requestId: 42 });
    expect(sent).toMatchObject([
      { worker: "w1", msg: { op: "put-data", key: "d-1", data: argsOf("d-1") } },
      { worker: "w2", msg: { op: "put-data", key: "d-2", data: argsOf("d-2") } },
      { worker: "w1", msg: { op: "put-data", key: "d-3", data: argsOf("d-3") } },
    ]);
    // The workers answer with the scheduler's own request id, not the client's.
    const ids = new Set(sent.map((s) => (s.msg.op === "put-data" ? s.msg.requestId : -1)));
    expect(ids.size).toBe(1);
  });

  test("data-stored puts the key in memory and answers with scatter-reply once all items are stored", () => {
    const h = sim(["w1"]);
    const [put] = h.scatter([{ key: "d-1" }, { key: "d-2" }], { requestId: 42 });
    const id = put?.msg.op === "put-data" ? put.msg.requestId : -1;
    expect(h.dataStored("w1", id, "d-1", 100)).toEqual([inMemory("c1", "d-1", ["w1"], 100, "scattered")]);
    expect(h.dataStored("w1", id, "d-2", 200)).toEqual([
      {
        client: "c1",
        msg: {
          op: "scatter-reply",
          requestId: 42,
          stored: [
            { key: "d-1", nbytes: 100, whoHas: [addressOf("w1")] },
            { key: "d-2", nbytes: 200, whoHas: [addressOf("w1")] },
          ],
        },
      },
      inMemory("c1", "d-2", ["w1"], 200, "scattered"),
    ]);
    expect(h.statuses(["d-1", "d-2"])).toEqual({ "d-1": "memory", "d-2": "memory" });
    expect(h.state.scatters.size).toBe(0);
  });

  test("broadcast stores each item on every worker before replying", () => {
    const h = sim(["w1", "w2"]);
    const sent = h.scatter([{ key: "d-1" }], { broadcast: true, requestId: 7 });
    expect(sent.map((s) => ("worker" in s ? s.worker : "")).sort()).toEqual(["w1", "w2"]);
    const id = sent[0]?.msg.op === "put-data" ? sent[0].msg.requestId : -1;
    expect(ops(h.dataStored("w1", id, "d-1"), "scatter-reply")).toEqual([]);
    expect(ops(h.dataStored("w2", id, "d-1"), "scatter-reply")).toEqual([
      { client: "c1", msg: { op: "scatter-reply", requestId: 7, stored: [{ key: "d-1", nbytes: 8, whoHas: [addressOf("w1"), addressOf("w2")] }] } },
    ]);
    expect(h.whoHas("d-1")).toEqual(["w1", "w2"]);
  });

  test("scatter with no workers, or only unknown ones, is answered with an error", () => {
    const h = sim([]);
    expect(h.scatter([{ key: "d-1" }], { requestId: 1 })).toEqual([
      {
        client: "c1",
        msg: { op: "scatter-reply", requestId: 1, stored: [], error: "no workers are connected yet; wait for workers (cluster.waitForWorkers) before scattering" },
      },
    ]);
    h.addWorker("w1");
    expect(h.scatter([{ key: "d-1" }], { requestId: 2, workers: ["w7"] })).toEqual([
      { client: "c1", msg: { op: "scatter-reply", requestId: 2, stored: [], error: "none of the workers w7 is connected; connected: w1" } },
    ]);
  });

  test("a task reading scattered data runs where the data is", () => {
    const h = sim(["w1", "w2"]);
    h.submit([task("busy-0")], ["busy-0"]); // w1 busy while the data goes to w2
    const [put] = h.scatter([{ key: "d-1" }], { workers: ["w2"] });
    const id = put?.msg.op === "put-data" ? put.msg.requestId : -1;
    h.dataStored("w2", id, "d-1", 1000);
    h.finish("busy-0");
    expect(h.submit([task("use-1", ["d-1"])], ["use-1"])).toEqual([define("w2", "h-use"), compute("w2", "use-1", [["d-1", 1000, ["w2"]]], prio(0, 3))]);
  });

  test("losing the only holder of scattered data a client wants: key-erred with SKEIN_ERR_DATA_LOST, dependents blame it", () => {
    const h = sim(["w1", "w2"]);
    const [put] = h.scatter([{ key: "d-1" }], { workers: ["w1"] });
    const id = put?.msg.op === "put-data" ? put.msg.requestId : -1;
    h.dataStored("w1", id, "d-1");
    h.submit([task("use-1", ["d-1"], { workers: ["w2"] })], ["use-1"]);
    expect(h.processingOn("use-1")).toBe("w2");
    const sent = h.removeWorker("w1");
    const lost = { name: "SkeinError", code: SKEIN_ERROR_CODES.DATA_LOST, message: expect.stringContaining("d-1") };
    expect(ops(sent, "key-erred")).toEqual([
      { client: "c1", msg: { op: "key-erred", key: "d-1", blame: "d-1", error: lost } },
      { client: "c1", msg: { op: "key-erred", key: "use-1", blame: "d-1", error: lost } },
    ]);
    expect(ops(sent, "free-keys")).toEqual([free("w2", "use-1")]);
    expect(computes(sent)).toEqual([]);
    expect(h.statuses(["d-1", "use-1"])).toEqual({ "d-1": "erred", "use-1": "erred" });
  });

  test("a worker leaving before it stored its items fails the scatter", () => {
    const h = sim(["w1", "w2"]);
    const sent = h.scatter([{ key: "d-1" }, { key: "d-2" }], { requestId: 9 });
    const id = sent[0]?.msg.op === "put-data" ? sent[0].msg.requestId : -1;
    h.dataStored("w1", id, "d-1");
    expect(ops(h.removeWorker("w2", { reason: "connection lost" }), "scatter-reply")).toEqual([
      {
        client: "c1",
        msg: {
          op: "scatter-reply",
          requestId: 9,
          stored: [{ key: "d-1", nbytes: 8, whoHas: [addressOf("w1")] }],
          error: "worker w2 left before storing 1 item(s): connection lost",
        },
      },
    ]);
    expect(h.state.scatters.size).toBe(0);
  });

  test("data stored after its client left is freed on the worker, not kept for nobody", () => {
    const h = sim(["w1"]);
    const [put] = h.scatter([{ key: "d-1" }]);
    h.removeClient("c1");
    expect(h.dataStored("w1", put?.msg.op === "put-data" ? put.msg.requestId : -1, "d-1")).toEqual([free("w1", "d-1")]);
    expect(h.status("d-1")).toBe("forgotten");
    expect(h.state.scatters.size).toBe(0);
  });

  test("items stored after their scatter already failed are freed", () => {
    const h = sim(["w1", "w2"]);
    const sent = h.scatter([{ key: "d-1" }, { key: "d-2" }, { key: "d-3" }], { requestId: 9 });
    const id = sent[0]?.msg.op === "put-data" ? sent[0].msg.requestId : -1;
    h.dataStored("w1", id, "d-1");
    expect(ops(h.removeWorker("w2"), "scatter-reply")).toHaveLength(1);
    // d-3 was also for w1; it arrives after the client was told the scatter failed.
    expect(h.dataStored("w1", id, "d-3")).toEqual([free("w1", "d-3")]);
    expect(h.status("d-3")).toBe("forgotten");
    expect(h.status("d-1")).toBe("memory");
  });

  test("scattering a lost key again brings it back to memory", () => {
    const h = sim(["w1", "w2"]);
    const [put] = h.scatter([{ key: "d-1" }], { workers: ["w1"] });
    h.dataStored("w1", put?.msg.op === "put-data" ? put.msg.requestId : -1, "d-1");
    h.removeWorker("w1");
    expect(h.status("d-1")).toBe("erred");
    const [again] = h.scatter([{ key: "d-1" }], { requestId: 2 });
    expect(again).toMatchObject({ worker: "w2", msg: { op: "put-data", key: "d-1" } });
    const sent = h.dataStored("w2", again?.msg.op === "put-data" ? again.msg.requestId : -1, "d-1");
    expect(ops(sent, "key-in-memory")).toEqual([inMemory("c1", "d-1", ["w2"], 8, "scattered")]);
    expect(h.status("d-1")).toBe("memory");
  });
});

describe("no-worker", () => {
  test("tasks submitted before any worker exists wait in no-worker and run once a worker joins", () => {
    const h = sim([]);
    expect(h.submit([task("a-1"), task("b-1", ["a-1"])], ["b-1"])).toEqual([]);
    expect(h.statuses(["a-1", "b-1"])).toEqual({ "a-1": "no-worker", "b-1": "waiting" });
    expect(h.addWorker("w1")).toEqual([
      { client: "c1", msg: { op: "workers-changed", count: 1, names: ["w1"] } },
      define("w1", "h-a"),
      compute("w1", "a-1", [], prio(0, 0)),
    ]);
    expect(computes(h.finish("a-1"))).toEqual([["w1", "b-1"]]);
  });

  test("many root tasks waiting for a worker respect saturation when it joins", () => {
    const h = sim([]);
    const keys = Array.from({ length: 10 }, (_, i) => `r-${i}`);
    h.submit(keys.map((k) => task(k)), keys);
    expect(h.state.noWorker.size).toBe(10);
    expect(computes(h.addWorker("w1"))).toEqual([
      ["w1", "r-0"],
      ["w1", "r-1"],
    ]);
    expect(h.state.queued.size).toBe(8);
    expect(h.state.noWorker.size).toBe(0);
  });
});

describe("queueing of root tasks", () => {
  const roots = (n: number, prefix = "r") => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

  test("100 root tasks on one single-threaded worker: only a few compute-task messages at first", () => {
    const h = sim(["w1"]);
    const keys = roots(100);
    const sent = h.submit(keys.map((k) => task(k)), keys);
    expect(computes(sent)).toEqual([
      ["w1", "r-0"],
      ["w1", "r-1"],
    ]);
    expect(h.state.queued.size).toBe(98);
    expect(h.worker("w1").processing.size).toBe(2);
  });

  test("each task-finished sends the next queued root task, keeping the worker saturated", () => {
    const h = sim(["w1"]);
    const keys = roots(100);
    h.submit(keys.map((k) => task(k)), keys);
    for (let i = 0; i < 98; i++) {
      const sent = h.finish(`r-${i}`);
      expect(computes(sent)).toEqual([["w1", `r-${i + 2}`]]);
      expect(h.worker("w1").processing.size).toBe(2);
    }
    expect(computes(h.runAll())).toEqual([]);
    expect(keys.every((k) => h.status(k) === "memory")).toBe(true);
  });

  test("results arriving in one frame are applied in order, and the slots they free are refilled once, by priority", () => {
    const h = sim(["w1"]);
    const keys = roots(10);
    h.submit(keys.map((k) => task(k)), keys);
    const sent = h.applyFrame([h.finished("r-0"), h.finished("r-1")]);
    expect(ops(sent, "key-in-memory").map((s) => (s.msg as { key: string }).key)).toEqual(["r-0", "r-1"]);
    expect(computes(sent)).toEqual([
      ["w1", "r-2"],
      ["w1", "r-3"],
    ]);
    expect(h.worker("w1").processing.size).toBe(2);
    expect(h.state.queued.size).toBe(6);
  });

  test("every event of a frame takes effect: the dependent of one result runs, a result nobody asked for is freed", () => {
    const h = sim(["w1"]);
    h.submit([task("a-1"), task("b-1", ["a-1"])], ["b-1"]);
    // a-1 finishes and, in the same frame, the worker reports a result nobody asked it for.
    const sent = h.applyFrame([h.finished("a-1"), { type: "task-finished", workerId: "id-w1", key: "x-9", nbytes: 1, typeName: "number", durationMs: 1, stimulusId: "s-x" }]);
    expect(computes(sent)).toEqual([["w1", "b-1"]]);
    expect(sent).toContainEqual({ worker: "w1", msg: { op: "free-keys", keys: ["x-9"] } });
    expect(h.status("a-1")).toBe("memory");
  });

  test("with one task per thread, a finished task still makes room for the next", () => {
    const h = sim(["w1"], { saturationTasksPerThread: 1 });
    const keys = roots(5);
    h.submit(keys.map((k) => task(k)), keys);
    expect(h.worker("w1").processing.size).toBe(1);
    const done = h.runAll();
    expect(ops(done, "key-in-memory")).toHaveLength(5);
    expect(h.state.queued.size).toBe(0);
  });

  test("a failed root task also makes room for the next", () => {
    const h = sim(["w1"]);
    const keys = roots(4);
    h.submit(keys.map((k) => task(k)), keys);
    expect(computes(h.fail("r-0"))).toEqual([["w1", "r-2"]]);
  });

  test("priority order: higher priority first, FIFO within a priority", () => {
    const h = sim(["w1"], { saturationTasksPerThread: 1 });
    h.submit([task("fill-0")], ["fill-0"]); // occupies the only slot, so everything below queues
    h.submit([task("low-0", [], { priority: -1 }), task("mid-0"), task("mid-1")], ["low-0", "mid-0", "mid-1"]);
    h.submit([task("high-0", [], { priority: 10 }), task("mid-2"), task("high-1", [], { priority: 10 })], ["high-0", "mid-2", "high-1"]);
    expect(h.state.queued.size).toBe(6);
    const order: string[] = [];
    let next = "fill-0";
    for (let i = 0; i < 6; i++) {
      const [c] = computes(h.finish(next));
      expect(c).toBeDefined();
      next = (c as [string, string])[1];
      order.push(next);
    }
    expect(order).toEqual(["high-0", "high-1", "mid-0", "mid-1", "mid-2", "low-0"]);
  });

  test("queued root tasks go to a worker that joins", () => {
    const h = sim(["w1"]);
    const keys = roots(6);
    h.submit(keys.map((k) => task(k)), keys);
    expect(computes(h.addWorker("w2"))).toEqual([
      ["w2", "r-2"],
      ["w2", "r-3"],
    ]);
    expect(h.state.queued.size).toBe(2);
  });

  test("dependents of root tasks are never queued", () => {
    const h = sim(["w1"]);
    const keys = roots(6);
    h.submit([...keys.map((k) => task(k)), ...keys.map((k, i) => task(`dep-${i}`, [k]))], keys.map((_, i) => `dep-${i}`));
    const sent = h.finish("r-0");
    expect(computes(sent)).toContainEqual(["w1", "dep-0"]);
    expect(h.status("dep-0")).toBe("processing");
  });
});

describe("worker restrictions", () => {
  test('workers: ["w2"] only runs on w2, even when w1 is idle', () => {
    const h = sim(["w1", "w2"]);
    h.submit([task("pinned-1", [], { workers: ["w2"] }), task("pinned-2", [], { workers: ["w2"] }), task("pinned-3", [], { workers: ["w2"] })], [
      "pinned-1",
      "pinned-2",
      "pinned-3",
    ]);
    expect([h.processingOn("pinned-1"), h.processingOn("pinned-2")]).toEqual(["w2", "w2"]);
    expect(h.status("pinned-3")).toBe("queued");
    expect(h.worker("w1").processing.size).toBe(0);
    // A slot on w1 is no use to it.
    h.submit([task("free-1")], ["free-1"]);
    expect(computes(h.finish("free-1"))).toEqual([]);
    expect(computes(h.finish("pinned-1"))).toEqual([["w2", "pinned-3"]]);
  });

  test("a restriction may name the worker's address or host", () => {
    const h = sim(["w1", "w2"]);
    h.submit([task("a-1", [], { workers: [addressOf("w2")] }), task("h-1", [], { workers: ["w2.test"] })], ["a-1", "h-1"]);
    expect([h.processingOn("a-1"), h.processingOn("h-1")]).toEqual(["w2", "w2"]);
  });

  test("a restriction to an unknown worker waits in no-worker until that worker joins", () => {
    const h = sim(["w1"]);
    expect(h.submit([task("gpu-1", [], { workers: ["gpu"] })], ["gpu-1"])).toEqual([]);
    expect(h.status("gpu-1")).toBe("no-worker");
    expect(computes(h.addWorker("w2"))).toEqual([]);
    expect(computes(h.addWorker("gpu"))).toEqual([["gpu", "gpu-1"]]);
  });

  test("allowOtherWorkers runs elsewhere when none of the named workers is there", () => {
    const h = sim(["w1", "w2"]);
    h.submit([task("loose-1", [], { workers: ["gpu"], allowOtherWorkers: true })], ["loose-1"]);
    expect(h.processingOn("loose-1")).toBe("w1");
    h.submit([task("loose-2", [], { workers: ["w2"], allowOtherWorkers: true })], ["loose-2"]);
    expect(h.processingOn("loose-2")).toBe("w2");
  });

  test("a restricted task whose worker leaves waits for it", () => {
    const h = sim(["w1", "w2"]);
    h.submit([task("pinned-1", [], { workers: ["w2"] })], ["pinned-1"]);
    expect(computes(h.removeWorker("w2"))).toEqual([]);
    expect(h.status("pinned-1")).toBe("no-worker");
    expect(computes(h.addWorker("w2"))).toEqual([["w2", "pinned-1"]]);
  });
});

describe("graphs the scheduler cannot run", () => {
  const protocol = (message: string) => ({ name: "SkeinError", code: SKEIN_ERROR_CODES.PROTOCOL, message });

  test("an unknown dependency key: key-erred with a message that names it", () => {
    const h = sim(["w1"]);
    expect(h.submit([task("y-1", ["gone-1"])], ["y-1"])).toEqual([
      {
        client: "c1",
        msg: {
          op: "key-erred",
          key: "y-1",
          blame: "y-1",
          error: protocol(
            "task y-1 depends on gone-1, which the scheduler does not know: its future was released, or it belongs to another client that left",
          ),
        },
      },
    ]);
    expect(h.status("y-1")).toBe("erred");
    expect(h.worker("w1").processing.size).toBe(0);
  });

  test("a task built on one with an unknown dependency fails with the same blame, and nothing runs", () => {
    const h = sim(["w1"]);
    const sent = h.submit([task("y-1", ["gone-1"]), task("z-1", ["y-1"])], ["z-1"]);
    expect(sent).toEqual([{ client: "c1", msg: { op: "key-erred", key: "z-1", blame: "y-1", error: expect.objectContaining({ code: SKEIN_ERROR_CODES.PROTOCOL }) } }]);
    expect(h.statuses(["y-1", "z-1"])).toEqual({ "y-1": "erred", "z-1": "erred" });
  });

  test("a task that depends on itself is erred, not run", () => {
    const h = sim(["w1"]);
    expect(h.submit([task("loop-1", ["loop-1"])], ["loop-1"])).toEqual([
      { client: "c1", msg: { op: "key-erred", key: "loop-1", blame: "loop-1", error: protocol("task loop-1 depends on itself") } },
    ]);
    expect(h.task("loop-1").dependencies.size).toBe(0);
  });

  test("a task whose function was never sent is erred", () => {
    const h = sim(["w1"]);
    expect(h.submit([task("f-1")], ["f-1"], { functions: [] })).toEqual([
      { client: "c1", msg: { op: "key-erred", key: "f-1", blame: "f-1", error: protocol("task f-1 uses function h-f, which the client never sent") } },
    ]);
  });

  test("a task whose function never came fails again when needed again, instead of crashing the scheduler", () => {
    const h = sim(["w1"]);
    h.submit([task("a-1"), task("b-1", ["a-1"])], ["a-1", "b-1"], { functions: [fnSpec("h-b")] });
    expect(h.statuses(["a-1", "b-1"])).toEqual({ "a-1": "erred", "b-1": "erred" });
    h.release(["a-1"]); // b-1 still names it: released, and its failure cleared
    expect(h.status("a-1")).toBe("released");
    const error = protocol("task a-1 uses function h-a, which the client never sent");
    expect(h.submit([task("c-1", ["a-1"])], ["c-1"])).toEqual([{ client: "c1", msg: { op: "key-erred", key: "c-1", blame: "a-1", error } }]);
    expect(h.worker("w1").processing.size).toBe(0);
  });

  test("wanting a key the scheduler does not know is answered with key-erred", () => {
    const h = sim(["w1"]);
    expect(h.submit([], ["old-1"])).toEqual([
      { client: "c1", msg: { op: "key-erred", key: "old-1", blame: "old-1", error: protocol("key old-1 is unknown to the scheduler; it was released before this client asked for it") } },
    ]);
  });

  test("resubmitting a known key keeps its recipe and its state", () => {
    const h = sim(["w1"]);
    h.submit([task("x-1")], ["x-1"]);
    const again = h.submit([task("x-1", [], { priority: 99 })], ["x-1"]);
    expect(again).toEqual([]);
    expect(h.task("x-1").priority).toEqual(prio(0, 0));
    expect(h.finish("x-1")).toEqual([inMemory("c1", "x-1", ["w1"])]);
  });
});

/**
 * Random clients and workers doing random legal things. Sim checks after every event that the
 * invariants hold (validate), that its messages and records agree, and that nothing unneeded is
 * kept; at the end every wanted key must settle, and once the clients leave nothing may be left.
 * Seeded, so a failure names a seed and replays exactly.
 */
describe("random event sequences", () => {
  const STEPS = 150;
  test.each([
    [1, 50],
    [51, 100],
    [101, 150],
    [151, 200],
  ])(`seeds %i to %i, ${STEPS} events each: every invariant holds and everything wanted settles`, (first, last) => {
    for (let seed = first; seed <= last; seed++) randomRun(seed, STEPS);
  });
});

function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

function randomRun(seed: number, steps: number): void {
  const random = xorshift(seed);
  const pick = <T>(xs: readonly T[]): T | undefined => xs[Math.floor(random() * xs.length)];
  const h = new Sim({ saturationTasksPerThread: 1 + (seed % 3), allowedFailures: 1 + (seed % 4) });
  const names = ["w1", "w2", "w3"];
  const up = new Set<string>();
  const wanted = new Map<string, Set<string>>([
    ["c1", new Set()],
    ["c2", new Set()],
  ]);
  const puts: { worker: string; id: number; key: string }[] = [];
  const log: string[] = [];
  let n = 0;
  h.addClient("c1");
  h.addClient("c2");

  const step = () => {
    const x = random();
    const client = random() < 0.6 ? "c1" : "c2";
    if (x < 0.08) {
      const w = pick(names.filter((name) => !up.has(name)));
      if (!w) return;
      log.push(`add ${w}`);
      h.addWorker(w, { nthreads: 1 + Math.floor(random() * 2) });
      up.add(w);
    } else if (x < 0.13) {
      const w = pick([...up]);
      if (!w) return;
      const graceful = random() < 0.3;
      log.push(`remove ${w}${graceful ? " gracefully" : ""}`);
      h.removeWorker(w, { graceful });
      up.delete(w);
    } else if (x < 0.3) {
      // Like the real client: every submitted task is wanted; dependencies may be old keys or gone ones.
      const existing = [...h.state.tasks.keys()];
      const local: string[] = [];
      const specs = [];
      for (let i = 0, size = 1 + Math.floor(random() * 6); i < size; i++) {
        const key = `${pick(["f", "g", "h"])}-${n++}`;
        const deps = new Set<string>();
        for (let d = 0; d < 3; d++) {
          const y = random();
          if (y < 0.35 && local.length > 0) deps.add(pick(local) as string);
          else if (y < 0.45 && existing.length > 0) deps.add(pick(existing) as string);
          else if (y < 0.47) deps.add(`gone-${n}`);
        }
        const restricted = random() < 0.1 ? { workers: [pick(names) as string], allowOtherWorkers: random() < 0.5 } : {};
        specs.push(task(key, [...deps], { retries: random() < 0.2 ? 1 : 0, priority: Math.floor(random() * 3), ...restricted }));
        local.push(key);
      }
      const wants = [...local];
      if (random() < 0.2 && existing.length > 0) wants.push(pick(existing) as string);
      // Now and then a client forgets to send a function (the scheduler must fail those tasks, not hang).
      const functions = [...new Set(specs.map((s) => s.fnHash))].filter(() => random() > 0.03).map(fnSpec);
      log.push(`submit ${client} ${JSON.stringify(specs.map((s) => [s.key, s.deps, s.workers ?? []]))}`);
      h.submit(specs, wants, { client, functions });
      for (const k of wants) wanted.get(client)?.add(k);
    } else if (x < 0.6) {
      const r = pick(h.running);
      if (!r) return;
      if (random() < 0.3) {
        // Several results of one worker in one frame, as a busy worker sends them.
        const batch = h.running.filter((other) => other.worker === r.worker).slice(0, 1 + Math.floor(random() * 4));
        log.push(`finish ${batch.map((b) => b.key).join(", ")} on ${r.worker} in one frame`);
        h.applyFrame(batch.map((b) => h.finished(b.key, { worker: b.worker, nbytes: Math.floor(random() * 1000) })));
      } else {
        log.push(`finish ${r.key} on ${r.worker}`);
        h.finish(r.key, { worker: r.worker, nbytes: Math.floor(random() * 1000) });
      }
    } else if (x < 0.66) {
      const r = pick(h.running);
      if (!r) return;
      log.push(`fail ${r.key} on ${r.worker}`);
      h.fail(r.key, { worker: r.worker });
    } else if (x < 0.74) {
      const k = pick([...(wanted.get(client) ?? [])]);
      if (!k) return;
      log.push(`release ${k} by ${client}`);
      h.release([k], client);
      wanted.get(client)?.delete(k);
    } else if (x < 0.79) {
      const k = pick([...h.state.tasks.keys()]);
      if (!k) return;
      const force = random() < 0.3;
      log.push(`cancel ${k} by ${client}${force ? " (force)" : ""}`);
      h.cancel([k], { client, force });
    } else if (x < 0.85) {
      const w = pick([...up]);
      if (!w) return;
      const key = `d-${n++}`;
      const broadcast = random() < 0.3;
      log.push(`scatter ${key} ${broadcast ? "to all" : `to ${w}`} by ${client}`);
      for (const s of h.scatter([{ key }], broadcast ? { broadcast, client } : { workers: [w], client })) {
        if ("worker" in s && s.msg.op === "put-data") puts.push({ worker: s.worker, id: s.msg.requestId, key });
      }
    } else if (x < 0.88 && puts.length > 0) {
      const [p] = puts.splice(Math.floor(random() * puts.length), 1);
      if (!p) return;
      log.push(`stored ${p.key} on ${p.worker}`);
      h.dataStored(p.worker, p.id, p.key);
    } else if (x < 0.93) {
      const r = pick(h.running);
      const ts = r && h.state.tasks.get(r.key);
      const dep = ts && pick([...ts.dependencies]);
      const holder = dep && pick([...dep.whoHas].filter((w) => w.name !== r.worker));
      if (!r || !dep || !holder || ts.processingOn?.name !== r.worker) return;
      log.push(`missing ${dep.key} from ${holder.name} for ${r.key} on ${r.worker}`);
      h.missingData({ worker: r.worker, key: r.key, dep: dep.key, from: holder.address });
    } else if (x < 0.97) {
      const ts = pick([...h.state.tasks.values()].filter((t) => t.status === "memory"));
      const w = pick([...up]);
      if (!ts || !w) return;
      log.push(`keys-added ${ts.key} on ${w}`);
      h.keysAdded(w, [{ key: ts.key, nbytes: ts.nbytes }]);
    } else {
      log.push(`${client} leaves and comes back`);
      h.removeClient(client);
      wanted.get(client)?.clear();
      h.addClient(client);
    }
  };

  const fail = (where: string, error: unknown): never => {
    throw new Error(`seed ${seed}, ${where}: ${(error as Error).message}\nlast events:\n  ${log.slice(-30).join("\n  ")}`);
  };
  for (let i = 0; i < steps; i++) {
    try {
      step();
    } catch (error) {
      fail(`step ${i}`, error);
    }
  }
  try {
    for (const w of names) if (!up.has(w)) h.addWorker(w);
    h.runAll();
  } catch (error) {
    fail("final run", error);
  }
  const unsettled = [...h.state.tasks.values()].filter((t) => t.status !== "memory" && t.status !== "erred" && t.status !== "released");
  if (unsettled.length > 0) fail("final run", new Error(`stuck: ${unsettled.map((t) => `${t.key} (${t.status}): ${h.state.story.describe(t.key)}`).join("; ")}`));
  h.removeClient("c1");
  h.removeClient("c2");
  if (h.state.tasks.size > 0) fail("end", new Error(`${h.state.tasks.size} tasks left after every client left: ${[...h.state.tasks.keys()].slice(0, 5).join(", ")}`));
  for (const w of names) if ((h.data.get(w)?.size ?? 0) > 0) fail("end", new Error(`${w} still holds ${[...(h.data.get(w) ?? [])].join(", ")}`));
}
