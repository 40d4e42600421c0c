/**
 * Where results live and how they move: dependents run where their inputs are, missing inputs
 * move worker to worker, and results nobody needs are freed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client, Cluster, Future } from "@skein/core";
import { expectNoProcessesLeft, startLocal, until, type LocalSetup } from "./helpers.js";

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

const taskState = (key: string) => cluster.scheduler.state.tasks.get(key);
const workerByName = (name: string) => [...cluster.scheduler.state.workers.values()].find((w) => w.name === name);

describe("locality", () => {
  it("runs each dependent on the worker that computed its input (the seed chain)", async () => {
    const multiply = (x: number) => ({ pid: process.pid, value: x * 2 });
    const neg = (a: { pid: number; value: number }) => ({ pid: process.pid, inputPid: a.pid, value: -a.value });
    const A = client.map(multiply, Array(48).fill(1));
    const B = client.map(neg, A);
    const results = await client.gather(B);
    expect(results.reduce((s, r) => s + r.value, 0)).toBe(-96);
    expect(results.filter((r) => r.pid !== r.inputPid)).toEqual([]);
    // Both workers took part.
    expect(new Set(results.map((r) => r.pid)).size).toBe(2);
  });

  it("fetches a missing input worker to worker, and the scheduler records the copy", async () => {
    const onFirst = client.with({ workers: "skein-0-0" }).submit((n: number) => new Uint8Array(n).fill(7), 100_000);
    const onSecond = client.with({ workers: "skein-1-0" }).submit((n: number) => new Uint8Array(n).fill(1), 100_000);
    await client.wait([onFirst, onSecond]);
    const total = client.with({ workers: "skein-1-0" }).submit(
      (a: Uint8Array, b: Uint8Array) => a.reduce((s, x) => s + x, 0) + b.reduce((s, x) => s + x, 0),
      onFirst as unknown as Uint8Array,
      onSecond as unknown as Uint8Array,
    );
    expect(await total.result()).toBe(800_000);
    const holders = [...(taskState(onFirst.key)?.whoHas ?? [])].map((w) => w.name).sort();
    expect(holders).toEqual(["skein-0-0", "skein-1-0"]);
  });

  it("moves a large binary result worker to worker and to the client byte-exact, read in place by the task", async () => {
    const n = 8 * 1024 * 1024 + 3;
    const make = (size: number) => new Float64Array(Math.floor(size / 8)).map((_, i) => i * 0.5);
    const data = client.with({ workers: "skein-0-0" }).submit(make, n);
    await client.wait([data]);
    const seen = client.with({ workers: "skein-1-0" }).submit(
      (a: Float64Array) => ({
        type: Object.prototype.toString.call(a),
        length: a.length,
        last: a[a.length - 1],
        // The input arrived as raw bytes into the worker's shared memory and was decoded as a view:
        // not copied through postMessage, not decoded element by element.
        shared: a.buffer instanceof SharedArrayBuffer,
        offset: a.byteOffset,
      }),
      data as unknown as Float64Array,
    );
    expect(await seen.result()).toEqual({ type: "[object Float64Array]", length: Math.floor(n / 8), last: (Math.floor(n / 8) - 1) * 0.5, shared: true, offset: 8 });
    const back = (await data.result()) as Float64Array;
    expect(back).toBeInstanceOf(Float64Array);
    expect(back.length).toBe(Math.floor(n / 8));
    expect(back[12345]).toBe(12345 * 0.5);
    expect(back.buffer).toBeInstanceOf(ArrayBuffer);
  });
});

describe("releasing results", () => {
  it("frees a result on its worker when its last future is released", async () => {
    const big = client.submit((n: number) => new Float64Array(n), 2_000_000);
    await client.wait([big]);
    const holder = [...(taskState(big.key)?.whoHas ?? [])][0];
    expect(holder?.nbytes).toBeGreaterThan(16_000_000);
    const key = big.key;
    big.release();
    await until(() => taskState(key) === undefined, { what: `${key} forgotten by the scheduler` });
    expect(holder?.hasWhat.size ?? 0).toBe([...(holder?.hasWhat ?? [])].length);
    expect([...(holder?.hasWhat ?? [])].some((t) => t.key === key)).toBe(false);
  });

  it("keeps an input alive while a pending task needs it, then frees it", async () => {
    const input = client.submit((n: number) => new Float64Array(n), 1_000_000);
    const slowUser = client.submit((xs: Float64Array) => new Promise((r) => setTimeout(() => r(xs.length), 300)), input as unknown as Float64Array);
    const key = input.key;
    input.release();
    await until(() => taskState(key)?.status === "memory", { what: "the input computed" });
    expect(await slowUser.result()).toBe(1_000_000);
    await until(() => taskState(key) === undefined || taskState(key)?.status === "released", { what: "the input released after its last user finished" });
    expect(taskState(key)?.whoHas.size ?? 0).toBe(0);
  });

  it("frees the result of a future that was garbage-collected without release()", async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc, "run with --expose-gc").toBeTypeOf("function");
    let key = "";
    await (async () => {
      const dropped: Future = client.submit((n: number) => new Float64Array(n), 500_000);
      key = dropped.key;
      await client.wait([dropped]);
    })();
    await until(
      () => {
        gc?.();
        return taskState(key) === undefined;
      },
      { what: `${key} forgotten after its future was collected`, timeout: 20_000 },
    );
  });

  it("keeps a future alive while its result is awaited, though nothing else references it", async () => {
    const gc = (globalThis as { gc?: () => void }).gc as () => void;
    // The Future object is unreachable as soon as result() is called.
    const pending = client.submit((ms: number) => new Promise((r) => setTimeout(() => r("kept"), ms)), 600).result({ timeout: 10_000 });
    for (let i = 0; i < 10; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await pending).toBe("kept");
  });

  it("frees a worker's memory, as the scheduler sees it", async () => {
    const before = [...cluster.scheduler.state.workers.values()].reduce((s, w) => s + w.nbytes, 0);
    const fs = client.map((n: number) => new Uint8Array(n), Array(8).fill(1_000_000));
    await client.wait(fs);
    const during = [...cluster.scheduler.state.workers.values()].reduce((s, w) => s + w.nbytes, 0);
    expect(during - before).toBeGreaterThanOrEqual(8_000_000);
    for (const f of fs) f.release();
    await until(() => [...cluster.scheduler.state.workers.values()].reduce((s, w) => s + w.nbytes, 0) <= before, { what: "worker memory back to where it was" });
    expect(workerByName("skein-0-0")).toBeDefined();
  });
});

describe("a busy worker stays responsive", () => {
  it("serves data and heartbeats while its only thread burns CPU", async () => {
    const ready = client.with({ workers: "skein-0-0" }).submit(() => "already here");
    await client.wait([ready]);
    const busy = client.with({ workers: "skein-0-0" }).submit(() => {
      const end = Date.now() + 4000;
      let spins = 0;
      while (Date.now() < end) spins++;
      return spins;
    });
    await until(() => taskState(busy.key)?.status === "processing", { what: "the busy task running" });
    await new Promise((r) => setTimeout(r, 300));
    // The worker's main thread answers while the executor thread is stuck in the loop.
    expect(await ready.result()).toBe("already here");
    expect(busy.done()).toBe(false);
    expect(workerByName("skein-0-0")).toBeDefined();
    expect(await busy.result()).toBeGreaterThan(0);
  });
});
