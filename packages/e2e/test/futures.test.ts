/** The client's futures API against a real local cluster (2 worker processes). */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Future, FutureCancelledError, asCompleted, wait, type Client, type Cluster } from "@skein/core";
import { expectNoProcessesLeft, startLocal, type LocalSetup } from "./helpers.js";

let setup: LocalSetup;
let client: Client;
let cluster: Cluster;

beforeAll(async () => {
  setup = await startLocal(2);
  ({ client, cluster } = setup);
});
afterAll(async () => {
  await setup?.close();
  await expectNoProcessesLeft();
});

const double = (x: number) => x * 2;
const sleepThen = (ms: number, value: unknown) => new Promise((resolve) => setTimeout(() => resolve(value), ms));

describe("submit and map", () => {
  it("runs the reference scenario: map, map over futures, sum", async () => {
    const A = client.map(double, Array(48).fill(1));
    const B = client.map((x: number) => -x, A);
    const total = client.submit((xs: number[]) => xs.reduce((a, b) => a + b, 0), B);
    expect(await total.result()).toBe(-96);
  });

  it("maps over several iterables zipped, like Array.prototype.map over pairs", async () => {
    const sums = client.map((a: number, b: string) => `${a}${b}`, [1, 2, 3], new Set(["x", "y", "z"]));
    expect(await client.gather(sums)).toEqual(["1x", "2y", "3z"]);
  });

  it("a batch too big for one message (30 000 tasks, the second half depending on the first) arrives in frames and computes right", async () => {
    // Submitted in one tick: one batch of 30 000 wanted tasks, split by the client into frames of
    // 10 000, where neg tasks in later frames need multiply results from earlier ones.
    const A = client.map(double, Array.from({ length: 15_000 }, (_, i) => i));
    const B = client.map((x: number) => -x, A);
    const total = client.submit((xs: number[]) => xs.reduce((a, b) => a + b, 0), B);
    expect(await total.result()).toBe(-2 * ((15_000 * 14_999) / 2));
    expect((await client.gather(B.slice(-3))) as number[]).toEqual([-29_994, -29_996, -29_998]);
    for (const f of [...A, ...B, total]) f.release();
  }, 60_000);

  it("rejects map inputs of different lengths", () => {
    expect(() => client.map((a: number, b: number) => a + b, [1, 2], [1])).toThrow(/different lengths \(2, 1\)/);
  });

  it("accepts futures anywhere inside the arguments", async () => {
    const [a, b] = client.map(double, [10, 20]) as [Future<number>, Future<number>];
    const f = client.submit((o: { xs: number[]; m: Map<string, number>; deep: { v: number }[] }) => o.xs[0]! + o.xs[1]! + o.m.get("k")! + o.deep[0]!.v, {
      xs: [a, b],
      m: new Map([["k", a]]),
      deep: [{ v: b }],
    });
    expect(await f.result()).toBe(20 + 40 + 20 + 40);
  });

  it("keeps JS types across the wire: Map, Set, Date, BigInt, typed arrays, undefined", async () => {
    const value = { m: new Map([[1, "a"]]), s: new Set([2]), d: new Date(0), b: 10n ** 30n, f: new Float64Array([1.5]), u: undefined };
    const f = client.submit((v: typeof value) => v, value);
    expect(await f.result()).toEqual(value);
  });

  it("supports async functions", async () => {
    expect(await client.submit(async (x: number) => (await Promise.resolve(x)) + 1, 1).result()).toBe(2);
  });
});

describe("keys and purity", () => {
  it("by default every call is a distinct task, even with equal arguments (pure: false)", () => {
    const fs = client.map(double, [1, 1, 1]);
    expect(new Set(fs.map((f) => f.key)).size).toBe(3);
    expect(fs[0]!.key).toMatch(/^double-[0-9a-f]{32}$/);
  });

  it("pure: true gives identical calls one key, so they run once", async () => {
    const counter = client.with({ pure: true });
    const fs = counter.map(double, [1, 1, 1]);
    expect(new Set(fs.map((f) => f.key)).size).toBe(1);
    expect(counter.submit(double, 1).key).toBe(fs[0]!.key);
    expect(counter.submit(double, 2).key).not.toBe(fs[0]!.key);
    expect(await client.gather(fs)).toEqual([2, 2, 2]);
  });

  it("uses an explicit key; map takes a prefix or a list", async () => {
    const f = client.with({ key: "my-answer" }).submit(double, 21);
    expect(f.key).toBe("my-answer");
    expect(await f.result()).toBe(42);
    expect(client.with({ key: "part" }).map(double, [1, 2]).map((g) => g.key)).toEqual(["part-0", "part-1"]);
    expect(client.with({ key: ["x1", "x2"] }).map(double, [1, 2]).map((g) => g.key)).toEqual(["x1", "x2"]);
  });

  it("validates per-call options with the option's name", () => {
    expect(() => client.with({ retires: 2 } as never)).toThrowError(expect.objectContaining({ code: "SKEIN_ERR_BAD_OPTION", message: expect.stringContaining('unknown option "retires" in task options (did you mean "retries"?)') }));
    expect(() => client.with({ priority: "high" } as never)).toThrow(/option "priority" from task options must be a number, got "high"/);
    expect(() => client.with({ retries: -1 })).toThrow(/option "retries" .* must be 0 or more/);
  });
});

describe("futures", () => {
  it("is not a thenable: awaiting a future gives the future, not its result", async () => {
    const f = client.submit(double, 1);
    expect("then" in f).toBe(false);
    expect(await (f as unknown as Promise<unknown>)).toBe(f);
    expect(await f.result()).toBe(2);
  });

  it("reports status, done() and exception()", async () => {
    const ok = client.submit(double, 2);
    const bad = client.submit((x: number) => {
      throw new RangeError(`no ${x}`);
    }, 3);
    await client.wait([ok, bad]);
    expect([ok.status, ok.done(), await ok.exception()]).toEqual(["finished", true, undefined]);
    expect(bad.status).toBe("error");
    expect(await bad.exception()).toMatchObject({ code: "SKEIN_ERR_TASK_FAILED", remoteName: "RangeError", key: bad.key });
  });

  it("times out result() when asked to", async () => {
    const slow = client.submit(sleepThen, 5000, 1);
    await expect(slow.result({ timeout: 100 })).rejects.toMatchObject({ code: "SKEIN_ERR_TIMEOUT" });
    await client.cancel(slow);
  });
});

describe("gather", () => {
  it("mirrors nested arrays, objects and Maps, leaving plain values alone", async () => {
    const [a, b] = client.map(double, [1, 2]) as [Future<number>, Future<number>];
    const gathered = await client.gather({ list: [a, [b, 7]], obj: { a }, map: new Map([["b", b]]), s: "x" });
    expect(gathered).toEqual({ list: [2, [4, 7]], obj: { a: 2 }, map: new Map([["b", 4]]), s: "x" });
  });

  it("rejects with the task's error", async () => {
    const bad = client.submit(() => {
      throw new Error("gather me");
    });
    await expect(client.gather([client.submit(double, 1), bad])).rejects.toMatchObject({ key: bad.key, remoteMessage: "gather me" });
  });
});

describe("scatter", () => {
  it("puts data on the workers; futures of it feed tasks", async () => {
    const big = new Float64Array(10_000).fill(1);
    const data = await client.scatter(big);
    expect(data.status).toBe("finished");
    const sum = client.submit((xs: Float64Array) => xs.reduce((a, b) => a + b, 0), data);
    expect(await sum.result()).toBe(10_000);
    expect(await data.result()).toEqual(big);
  });

  it("scatters arrays element by element, keyed by content", async () => {
    const parts = await client.scatter([1, 2, 3]);
    expect(parts).toHaveLength(3);
    expect(await client.gather(parts)).toEqual([1, 2, 3]);
    const again = await client.scatter([1]);
    expect(again[0]!.key).toBe(parts[0]!.key);
  });

  it("broadcasts to every worker", async () => {
    const shared = await client.scatter({ table: [1, 2, 3] }, { broadcast: true, hash: false });
    const holders = cluster.scheduler.state.tasks.get(shared.key)?.whoHas.size;
    expect(holders).toBe(2);
  });

  it("rejects unknown target workers with the list of connected ones", async () => {
    await expect(client.scatter(1, { workers: ["nobody"] })).rejects.toThrow(/none of the workers nobody is connected; connected: skein-\d+-0/);
  });
});

describe("wait and asCompleted", () => {
  it("waits for all, for the first completed, and for the first error", async () => {
    const fast = client.submit(sleepThen, 10, "fast");
    const slow = client.submit(sleepThen, 3000, "slow");
    const first = await wait([fast, slow], { returnWhen: "FIRST_COMPLETED" });
    expect([...first.done]).toEqual([fast]);
    expect([...first.notDone]).toEqual([slow]);
    const failing = client.submit(() => {
      throw new Error("x");
    });
    const firstError = await client.wait([slow, failing], { returnWhen: "FIRST_EXCEPTION" });
    expect(firstError.done.has(failing)).toBe(true);
    await expect(client.wait([slow], { timeout: 50 })).rejects.toMatchObject({ code: "SKEIN_ERR_TIMEOUT", message: expect.stringContaining("0 of 1 futures done") });
    await client.cancel(slow);
  });

  it("yields futures as they complete, accepts more while iterating, and can yield results", async () => {
    const order: unknown[] = [];
    const later = client.submit(sleepThen, 400, "later");
    const soon = client.submit(sleepThen, 10, "soon");
    const iterator = asCompleted([later, soon], { withResults: true });
    let added = false;
    for await (const item of iterator) {
      const [, result] = item as [Future, unknown];
      order.push(result);
      if (!added) {
        iterator.add(client.submit(sleepThen, 10, "added"));
        added = true;
      }
    }
    expect(order).toEqual(["soon", "added", "later"]);
  });
});

describe("cancel", () => {
  it("cancels pending work; awaiting a cancelled future throws FutureCancelledError", async () => {
    const slow = client.submit(sleepThen, 10_000, "never");
    const dependent = client.submit(double, slow as unknown as number);
    await client.cancel(slow);
    expect(slow.status).toBe("cancelled");
    await expect(slow.result()).rejects.toBeInstanceOf(FutureCancelledError);
    await expect(dependent.result()).rejects.toMatchObject({ code: "SKEIN_ERR_CANCELLED" });
  });
});

describe("per-call options", () => {
  it("retries a failing task", async () => {
    // Fails on the first call on each worker, then succeeds: the counter lives on the worker thread.
    const flaky = () => {
      const g = globalThis as { attempts?: number };
      g.attempts = (g.attempts ?? 0) + 1;
      if (g.attempts < 2) throw new Error("flaky");
      return g.attempts;
    };
    expect(await client.with({ retries: 3, workers: ["skein-0-0"] }).submit(flaky).result()).toBeGreaterThanOrEqual(2);
  });

  it("runs only on the workers named", async () => {
    const pids = client.with({ workers: "skein-1-0" }).map((_: number) => process.pid, [1, 2, 3, 4]);
    expect(new Set(await client.gather(pids)).size).toBe(1);
  });

  it("honours priority: a later high-priority task overtakes queued low-priority ones", async () => {
    const stamp = (i: number) => ({ i, at: performance.now() });
    const blocker = client.with({ workers: "skein-0-0" }).submit(sleepThen, 300, 0);
    const low = client.with({ workers: "skein-0-0", priority: -1 }).map(stamp, [1, 2, 3, 4, 5, 6]);
    const high = client.with({ workers: "skein-0-0", priority: 10 }).submit(stamp, 99);
    await blocker.result();
    const [lowResults, highResult] = (await client.gather([low, high])) as [{ at: number }[], { at: number }];
    // Priority is best effort for work already handed to a worker; the rest waits behind the high one.
    const ranAfterHigh = lowResults.filter((r) => r.at > highResult.at).length;
    expect(ranAfterHigh).toBeGreaterThanOrEqual(4);
  });
});
