/**
 * Changing the size of a cluster without losing results: scale down retires workers (their data
 * moves to the workers that stay), adapt follows the work and replaces jobs that end, and a worker
 * told to leave (lifetime, SIGTERM) hands its results over first.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { Client, createCluster, type Cluster } from "@skein/core";
import { expectNoProcessesLeft, until } from "./helpers.js";

let cluster: Cluster | undefined;
let client: Client | undefined;

afterEach(async () => {
  await client?.close();
  await cluster?.close();
  client = undefined;
  cluster = undefined;
  await expectNoProcessesLeft();
});

async function start(options: Record<string, unknown> = {}) {
  cluster = await createCluster({ backend: "local", ...options }, { env: {}, userConfigDir: "/nonexistent" });
  client = await Client.connect(cluster);
  return { cluster, client };
}

/** A random number per task: recomputing a result would change it. */
const draw = (i: number) => ({ i, value: Math.random(), pid: process.pid });

describe("scaling down", () => {
  it("retires workers: their results move to the workers that stay, nothing is recomputed", async () => {
    const { cluster, client } = await start();
    await cluster.scale(3);
    await cluster.waitForWorkers(3, { timeout: 30_000 });
    const draws = client.map(draw, Array.from({ length: 30 }, (_, i) => i));
    const before = await client.gather(draws);
    expect(new Set(before.map((d) => d.pid)).size).toBe(3);
    await cluster.scale(1);
    await until(() => cluster.workers.length === 1 && cluster.jobs.length === 1, { what: "one worker left" });
    expect(await client.gather(draws)).toEqual(before);
    const holder = cluster.workers[0]?.name;
    for (const f of draws) expect([...(cluster.scheduler.state.tasks.get(f.key)?.whoHas ?? [])].map((w) => w.name)).toEqual([holder]);
  });

  it("a worker that gets SIGTERM hands its results over before it leaves", async () => {
    const { cluster, client } = await start();
    await cluster.scale(2);
    await cluster.waitForWorkers(2, { timeout: 30_000 });
    const draws = client.with({ workers: "skein-0-0" }).map(draw, [1, 2, 3, 4]);
    const before = await client.gather(draws);
    const victim = [...cluster.scheduler.state.workers.values()].find((w) => w.name === "skein-0-0")!;
    process.kill(victim.pid, "SIGTERM");
    await until(() => cluster.workers.every((w) => w.name !== "skein-0-0"), { what: "skein-0-0 gone" });
    expect(await client.gather(draws)).toEqual(before);
    for (const f of draws) expect([...(cluster.scheduler.state.tasks.get(f.key)?.whoHas ?? [])].map((w) => w.name)).toEqual(["skein-1-0"]);
  });
});

describe("client.retireWorkers", () => {
  it("moves a worker's results to the others, then closes it; by name or address", async () => {
    const { cluster, client } = await start();
    await cluster.scale(3);
    await cluster.waitForWorkers(3, { timeout: 30_000 });
    const draws = client.with({ workers: ["skein-0-0", "skein-1-0"] }).map(draw, [1, 2, 3, 4, 5, 6]);
    const before = await client.gather(draws);
    const address = cluster.workers.find((w) => w.name === "skein-1-0")!.address;
    const { retired, kept } = await client.retireWorkers(["skein-0-0", address]);
    expect({ retired: retired.sort(), kept }).toEqual({ retired: ["skein-0-0", "skein-1-0"], kept: [] });
    expect(cluster.scheduler.state.workers.size).toBeGreaterThanOrEqual(1);
    expect(await client.gather(draws)).toEqual(before);
    for (const f of draws) expect([...(cluster.scheduler.state.tasks.get(f.key)?.whoHas ?? [])].map((w) => w.name)).toEqual(["skein-2-0"]);
  });

  it("names the workers there are when asked for one that is not", async () => {
    const { cluster, client } = await start();
    await cluster.scale(1);
    await cluster.waitForWorkers(1, { timeout: 30_000 });
    await expect(client.retireWorkers("nobody")).rejects.toThrow(/no worker named or at nobody; the workers are: skein-0-0/);
    await expect(client.retireWorkers([])).rejects.toThrow(/needs worker names or addresses/);
    expect(cluster.workers.map((w) => w.name)).toEqual(["skein-0-0"]);
  });
});

describe("adaptive scaling", () => {
  it("grows with the work, finishes it, and shrinks to the minimum when idle", async () => {
    const { cluster, client } = await start();
    const sizes: number[] = [];
    cluster.scheduler.onWorkersChanged((w) => sizes.push(w.length));
    cluster.adapt({ minimum: 0, maximum: 3, interval: 0.2, targetDuration: 1, waitCount: 3 });
    expect(cluster.adaptive).toBe(true);
    const slow = client.map((ms: number) => new Promise((r) => setTimeout(() => r(ms), ms)), Array(12).fill(700));
    expect(await client.gather(slow)).toEqual(Array(12).fill(700));
    expect(Math.max(...sizes)).toBeGreaterThanOrEqual(2);
    // Results are still held by `slow`: the cluster keeps one worker for them, and no more.
    await until(() => cluster.workers.length === 1 && cluster.jobs.length === 1, { what: "the cluster shrunk to 1", timeout: 30_000 });
    expect(await client.gather(slow)).toEqual(Array(12).fill(700));
    for (const f of slow) f.release();
    await until(() => cluster.workers.length === 0 && cluster.jobs.length === 0, { what: "the cluster shrunk to 0 once nothing is held", timeout: 30_000 });
  });

  it("replaces a job whose workers reached their lifetime", async () => {
    const { cluster } = await start({ workerExtraArgs: ["--lifetime", "2"] });
    cluster.adapt({ minimum: 1, maximum: 1, interval: 0.2 });
    const seen = new Set<string>();
    cluster.scheduler.onWorkersChanged((workers) => workers.forEach((w) => seen.add(w.name)));
    await until(() => seen.size >= 2, { what: "a second worker after the first one's lifetime ended", timeout: 30_000 });
    expect([...seen]).toEqual(expect.arrayContaining(["skein-0-0", "skein-1-0"]));
  });

  it("rejects bad adapt options", async () => {
    const { cluster } = await start();
    expect(() => cluster.adapt({ minimum: 5, maximum: 2 })).toThrow(/minimum \(5\) is above maximum \(2\)/);
    expect(() => cluster.adapt({ maximun: 2 } as never)).toThrow(/unknown option "maximun"/);
  });

  it("scale() after adapt() fixes the size", async () => {
    const { cluster } = await start();
    cluster.adapt({ minimum: 0, maximum: 2 });
    await cluster.scale(1);
    expect(cluster.adaptive).toBe(false);
    await cluster.waitForWorkers(1, { timeout: 30_000 });
  });
});

describe("queue caps", () => {
  it("maxJobs limits how many jobs run at once, and says so once", async () => {
    const writes: string[] = [];
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    try {
      const { cluster } = await start({ maxJobs: 2 });
      await cluster.scale(4);
      await cluster.scale(5);
      expect(cluster.jobs).toHaveLength(2);
      await cluster.waitForWorkers(2, { timeout: 30_000 });
      expect(cluster.jobs).toHaveLength(2);
    } finally {
      spy.mockRestore();
    }
    const notices = writes.filter((w) => w.includes("maxJobs is 2"));
    expect(notices).toEqual(["[skein] cluster skein: 4 jobs wanted, but maxJobs is 2: submitting 2 now, the rest as the queue allows\n"]);
  });
});

describe("network preflight", () => {
  it("reports within seconds that the workers cannot reach the scheduler, naming the host and address", async () => {
    const { localBackend } = await import("@skein/backend-local");
    const { resolveClusterSettings, Cluster } = await import("@skein/core");
    const inner = localBackend({ forwardStderr: false });
    // Workers told to dial an address nobody listens on: what a wrong interface looks like.
    const unreachable = { ...inner, submit: (job: Parameters<typeof inner.submit>[0]) => inner.submit({ ...job, workerArgs: ["ws://127.0.0.1:9", ...job.workerArgs.slice(1)] }) };
    cluster = await Cluster.start(unreachable, resolveClusterSettings({ pollInterval: 0.5 }));
    await cluster.scale(1);
    const error = await cluster.waitForWorkers(1, { timeout: 60_000 }).then(() => undefined, (e: unknown) => e as Error);
    // The preflight's error (CONNECT_FAILED), not the job's end after the workers' 60 s death timeout.
    expect(error).toMatchObject({ code: "SKEIN_ERR_CONNECT_FAILED" });
    expect(error?.message).toMatch(/its workers cannot reach the scheduler .* worker skein-0-0 on \S+ \(address 127\.0\.0\.1\) cannot reach the scheduler at ws:\/\/127\.0\.0\.1:9/);
  });

  it("a worker stopped while it is still dialling (its cluster closed first) says nothing", async () => {
    const { spawn } = await import("node:child_process");
    const { createServer } = await import("node:net");
    const { fileURLToPath } = await import("node:url");
    // A port that hangs up on every connection, like a scheduler that has just stopped: each
    // connection tells us the worker is dialling.
    let dialled = 0;
    const server = createServer((socket) => {
      dialled++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    const bin = fileURLToPath(new URL("../../worker/dist/bin.js", import.meta.url));
    const worker = spawn(process.execPath, [bin, `ws://127.0.0.1:${port}`, "--name", "late", "--death-timeout", "30"], {
      env: { ...process.env, SKEIN_SECRET: "s".repeat(32) },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    worker.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      // Refused twice: retrying, but for less than the second after which a worker reports.
      await until(() => dialled >= 2, { what: "the worker to dial twice" });
      worker.kill("SIGTERM");
      await new Promise((resolve) => worker.once("exit", resolve));
      expect(stderr).toBe("");
    } finally {
      worker.kill("SIGKILL");
      server.close();
    }
  });
});
