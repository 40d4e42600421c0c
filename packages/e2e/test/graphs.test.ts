/**
 * Task graphs on a real local cluster (2 worker processes): delayed, compute and persist, one
 * message per graph, large fan-out/fan-in, bad graphs, fireAndForget, retry, and cancelling a graph.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client, Delayed, Future, FutureCancelledError, delayed, fireAndForget, type Cluster } from "@skein/core";
import { connect } from "@skein/transport";
import { expectNoProcessesLeft, runNode, startLocal, TEST_MARK, until, type LocalSetup } from "./helpers.js";

let setup: LocalSetup;
let client: Client;
let cluster: Cluster;
const scratch = mkdtempSync(join(tmpdir(), "skein-graphs-"));
let fileCounter = 0;
/** A fresh file path in this test file's scratch directory. */
const scratchFile = (what: string) => join(scratch, `${what}-${++fileCounter}`);

beforeAll(async () => {
  setup = await startLocal(2);
  ({ client, cluster } = setup);
});
afterAll(async () => {
  await setup?.close();
  await expectNoProcessesLeft();
});

const inc = delayed((x: number) => x + 1);
const add = delayed((a: number, b: number) => a + b);
/** Appends a line to `file` each time it runs, so a test can count runs across worker processes. */
const counted = delayed(async (file: string, value: number) => {
  const fs = await import("node:fs");
  fs.appendFileSync(file, "run\n");
  return value;
});
const runsIn = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean).length : 0);
const sleepThen = delayed((ms: number, value: number) => new Promise<number>((resolve) => setTimeout(() => resolve(value), ms)));

/** The stimulus that created each key on the scheduler: one update-graph message has one. */
function arrivals(keys: readonly string[]): Set<string> {
  return new Set(keys.map((key) => cluster.scheduler.state.story.of(key)[0]?.stimulusId ?? `never seen: ${key}`));
}

describe("delayed graphs", () => {
  it("computes a chain", async () => {
    const result = client.compute(inc(inc(inc(1))));
    expect(result).toBeInstanceOf(Future);
    expect(await result.result()).toBe(4);
  });

  it("computes a diamond once per node, from one update-graph message", async () => {
    const file = scratchFile("diamond");
    const root = counted(file, 10);
    const left = inc(root);
    const right = add(root, 5);
    const join = add(left, right);
    expect(await client.compute(join).result()).toBe(26);
    expect(runsIn(file)).toBe(1);
    const stimuli = arrivals([root.key, left.key, right.key, join.key]);
    expect(stimuli.size).toBe(1);
    expect([...stimuli][0]).toMatch(/^graph-/);
  });

  it("compute mirrors the structure: arrays, plain objects and Maps, other values kept", async () => {
    const a = inc(1);
    const out = client.compute({ list: [a, add(a, 10), "plain"], map: new Map([["k", inc(a)]]), n: 7 });
    expect(out.list[0]).toBeInstanceOf(Future);
    expect(out.list[2]).toBe("plain");
    expect(await client.gather(out)).toEqual({ list: [2, 12, "plain"], map: new Map([["k", 3]]), n: 7 });
  });

  it("persist keeps the results on the cluster, and later graphs build on them without recomputing", async () => {
    const file = scratchFile("persist");
    const base = counted(file, 1);
    const [kept] = client.persist([add(base, 1)]);
    await client.wait(kept as Future);
    const state = cluster.scheduler.state;
    expect(state.tasks.get((kept as Future).key)?.status).toBe("memory");
    // Only the output is kept: the inner task was freed once its dependent had run.
    expect(state.tasks.get(base.key)?.status).not.toBe("memory");
    const later = client.compute(add(kept as Future<number>, 100));
    expect(await later.result()).toBe(102);
    expect(runsIn(file)).toBe(1);
  });

  it("a Delayed passed to submit is computed as part of that task's graph", async () => {
    const a = inc(41);
    const f = client.submit((x: number) => x * 2, a);
    expect(await f.result()).toBe(84);
    expect(arrivals([a.key, f.key]).size).toBe(1);
  });

  it("a shared subgraph in two graphs sent while it still runs is computed once", async () => {
    const file = scratchFile("shared");
    const shared = counted(file, 3);
    const slow = add(sleepThen(400, 0), shared);
    const first = client.compute(inc(slow));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = client.compute(add(slow, 10));
    expect(await client.gather([first, second])).toEqual([4, 13]);
    expect(runsIn(file)).toBe(1);
  });

  it("runs a 10 000-task fan-out and fan-in (5 000 squares, a tree of sums) to the right answer", async () => {
    const started = performance.now();
    const range = delayed((n: number) => Array.from({ length: n }, (_, i) => i));
    const squareOf = delayed((xs: number[], i: number) => xs[i]! * xs[i]!);
    const source = range(5000);
    let level: Delayed<number>[] = Array.from({ length: 5000 }, (_, i) => squareOf(source, i));
    while (level.length > 1) {
      const next: Delayed<number>[] = [];
      for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? add(level[i]!, level[i + 1]!) : level[i]!);
      level = next;
    }
    const built = performance.now();
    const total = client.compute(level[0]!);
    const sent = performance.now();
    const expected = Array.from({ length: 5000 }, (_, i) => i * i).reduce((a, b) => a + b, 0);
    expect(await total.result({ timeout: 120_000 })).toBe(expected);
    const done = performance.now();
    // Released, the whole graph is forgotten.
    total.release();
    await until(() => !cluster.scheduler.state.tasks.has(source.key) && !cluster.scheduler.state.tasks.has(total.key), { what: "the graph to be forgotten" });
    console.log(
      `10 000-task graph: built ${(built - started).toFixed(0)} ms, planned and queued ${(sent - built).toFixed(0)} ms, ` +
        `computed ${((done - sent) / 1000).toFixed(1)} s on ${cluster.workers.length} workers`,
    );
  }, 180_000);
});

describe("graphs that cannot run", () => {
  it("a cycle made with explicit keys is refused by the client, naming the keys, and nothing is sent", () => {
    const first = delayed((x: number) => x, { key: "cyc-a" })(1);
    const middle = delayed((x: number) => x, { key: "cyc-b" })(first);
    const last = delayed((x: number) => x, { key: "cyc-a" })(middle);
    expect(() => client.compute(last)).toThrow(expect.objectContaining({ code: "SKEIN_ERR_BAD_GRAPH", message: expect.stringContaining("cyc-a -> cyc-b -> cyc-a") }));
    expect(cluster.scheduler.state.tasks.has("cyc-b")).toBe(false);
  });

  it("a dependency on a released future is refused by the client as missing", async () => {
    const f = client.submit((x: number) => x, 1);
    const d = inc(f as unknown as number);
    f.release();
    expect(() => client.compute(d)).toThrow(expect.objectContaining({ code: "SKEIN_ERR_BAD_GRAPH", message: expect.stringContaining(`depends on ${f.key}`) }));
  });

  it("a cycle from a client that does not check is failed by the scheduler, every task of it, naming them", async () => {
    const { connection } = await connect(cluster.schedulerAddress, { role: "client", secret: cluster.secret, name: "raw", timeoutMs: 5000, label: "raw" });
    try {
      const received: { op: string; key?: string; blame?: string; error?: { code?: string; message: string } }[] = [];
      connection.onMessages((messages) => received.push(...(messages as typeof received)));
      const fn = { kind: "source" as const, hash: `h-raw-${TEST_MARK}`, name: "raw", source: "((x) => x)" };
      const args = new Uint8Array([0x80]);
      connection.send({
        op: "update-graph",
        functions: [fn],
        tasks: [
          { key: "raw-a", fnHash: fn.hash, args, deps: ["raw-b"], priority: 0, retries: 0 },
          { key: "raw-b", fnHash: fn.hash, args, deps: ["raw-a"], priority: 0, retries: 0 },
        ],
        wants: ["raw-a", "raw-b"],
        stimulusId: "raw-cycle",
      });
      const erred = await until(() => (received.filter((m) => m.op === "key-erred").length === 2 ? received.filter((m) => m.op === "key-erred") : undefined), {
        what: () => `two key-erred messages (got ${JSON.stringify(received)})`,
      });
      expect(erred.map((m) => m.key).sort()).toEqual(["raw-a", "raw-b"]);
      for (const m of erred) {
        expect(m.error?.code).toBe("SKEIN_ERR_PROTOCOL");
        expect(m.error?.message).toContain("dependency cycle among raw-a, raw-b");
      }
    } finally {
      connection.close(1000, "done");
    }
    await until(() => !cluster.scheduler.state.tasks.has("raw-a"), { what: "the scheduler to forget the raw client's tasks" });
  });
});

describe("fireAndForget", () => {
  const writeLater = async (file: string, ms: number) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    const fs = await import("node:fs");
    fs.writeFileSync(file, "written");
    return file;
  };

  it("a task runs to completion after its client closed", async () => {
    const other = await Client.connect(cluster);
    const file = scratchFile("fire");
    const f = other.submit(writeLater, file, 500);
    fireAndForget(f);
    await other.close();
    await until(() => existsSync(file), { what: `${file} to be written by the fire-and-forget task` });
    await until(() => !cluster.scheduler.state.tasks.has(f.key), { what: "the scheduler to let go of the finished task" });
  });

  it("without it, closing the client stops the task (so the test above can fail)", async () => {
    const other = await Client.connect(cluster);
    const file = scratchFile("not-fired");
    const f = other.submit(writeLater, file, 500);
    await other.close();
    await until(() => !cluster.scheduler.state.tasks.has(f.key), { what: "the scheduler to drop the task" });
    // Well past the time the task would have written the file.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(existsSync(file)).toBe(false);
  });
});

describe("retry", () => {
  /** Fails the first time (no marker file yet), succeeds afterwards. */
  const firstTimeFails = async (marker: string, value: number) => {
    const fs = await import("node:fs");
    if (!fs.existsSync(marker)) {
      fs.writeFileSync(marker, "failed once");
      throw new Error("first time fails");
    }
    return value;
  };

  it("future.retry() runs an erred task again; the future is pending, then finished", async () => {
    const f = client.submit(firstTimeFails, scratchFile("marker"), 7);
    expect((await f.exception())?.message).toContain("first time fails");
    f.retry();
    expect(f.status).toBe("pending");
    expect(await f.result()).toBe(7);
    // A task that did not fail is left alone.
    f.retry();
    expect(f.status).toBe("finished");
    expect(await f.result()).toBe(7);
  });

  it("client.retry() on a graph output re-runs the dependency that failed", async () => {
    const flaky = delayed(firstTimeFails);
    const source = flaky(scratchFile("marker"), 20);
    const out = client.compute(add(source, 1));
    await expect(out.result()).rejects.toMatchObject({ remoteMessage: "first time fails" });
    client.retry(out);
    expect(await out.result()).toBe(21);
  });
});

describe("cancelling a graph", () => {
  it("cancelling a dependency cancels the outputs the client wants that need it", async () => {
    const slow = sleepThen(30_000, 1);
    const [leaf, out1, out2, independent] = client.compute([slow, inc(slow), add(inc(slow), 1), inc(1)]);
    await client.cancel(leaf!);
    expect([leaf, out1, out2].map((f) => f!.status)).toEqual(["cancelled", "cancelled", "cancelled"]);
    await expect(out2!.result()).rejects.toBeInstanceOf(FutureCancelledError);
    expect(await independent!.result()).toBe(2);
    await until(() => !cluster.scheduler.state.tasks.has(slow.key), { what: "the cancelled tasks to be forgotten" });
  });

  it("a script that cancels a graph and never awaits the cancelled futures prints nothing and exits 0", async () => {
    const script = `
      import { Client, createCluster, delayed } from "@skein/core";
      const cluster = await createCluster({ backend: "local" });
      await cluster.scale(1);
      await cluster.waitForWorkers(1, { timeout: 30000 });
      const client = await Client.connect(cluster);
      const slow = delayed((ms) => new Promise((r) => setTimeout(r, ms)))(30000);
      const inc = delayed((x) => x + 1);
      const [leaf, a, b] = client.compute([slow, inc(slow), inc(inc(slow))]);
      await client.cancel(leaf);
      try {
        await a.result();
      } catch (error) {
        console.log(error.name);
      }
      console.log(b.status);
      await client.close();
      await cluster.close();
    `;
    const result = await runNode(["--input-type=module", "-e", script], {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      env: { SKEIN_TEST_MARK: TEST_MARK, SKEIN_LOG: "" },
    });
    expect(result).toMatchObject({ code: 0, stdout: "FutureCancelledError\ncancelled\n", stderr: "" });
  });
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));
