/**
 * Worker memory management on real processes (issue 5 "Memory", issue 8 "unwritable spill
 * directory"): results beyond the target spill to disk and come back intact; a memory hog pauses
 * its worker and the scheduler sends it nothing until it resumes; a task that allocates past the
 * terminate threshold gets its worker restarted and ends as KilledWorkerError; a spill directory
 * that cannot be made costs a clear message, not the worker.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { Client, createCluster, type Cluster, type CreateClusterOptions } from "@skein/core";
import { expectNoProcessesLeft, TEST_MARK, until } from "./helpers.js";

let cluster: Cluster | undefined;
let client: Client | undefined;
const temporary: string[] = [];

afterEach(async () => {
  await client?.close();
  await cluster?.close();
  client = undefined;
  cluster = undefined;
  await expectNoProcessesLeft();
  for (const dir of temporary.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(what: string): string {
  const dir = mkdtempSync(join(tmpdir(), `skein-memory-${what}-`));
  temporary.push(dir);
  return dir;
}

async function start(workers: number, options: CreateClusterOptions) {
  cluster = await createCluster({ backend: "local", ...options }, { env: {}, userConfigDir: "/nonexistent" });
  await cluster.scale(workers);
  await cluster.waitForWorkers(workers, { timeout: 30_000 });
  client = await Client.connect(cluster);
  return { cluster, client };
}

const workerNamed = (c: Cluster, name: string) => [...c.scheduler.state.workers.values()].find((w) => w.name === name);

/** Thresholds other than the ones a test is about are turned off, so RSS noise cannot interfere. */
const only = (flags: Record<string, string>) =>
  Object.entries({ "--memory-target": "false", "--memory-spill": "false", "--memory-pause": "false", "--memory-terminate": "false", ...flags }).flat();

/** `n` bytes of a pattern that depends on `seed`: a shifted or truncated copy would not match. */
function pattern(seed: number, n: number): Uint8Array {
  const bytes = new Uint8Array(n);
  for (let j = 0; j < n; j++) bytes[j] = (j * 31 + seed * 7 + (j >> 12)) & 255;
  return bytes;
}
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

const MB = 1_000_000;
const RESULTS = 20;
const RESULT_BYTES = 5 * MB;

describe("spilling", () => {
  it("results beyond the target go to disk (0600 files in a 0700 directory), come back byte-exact, and the directory goes with the worker", async () => {
    const local = tempDir("local");
    const { cluster, client } = await start(1, {
      processes: 1,
      cores: 1,
      memory: "100MB",
      localDirectory: local,
      workerExtraArgs: only({ "--memory-target": "0.5" }),
    });
    const worker = workerNamed(cluster, "skein-0-0")!;
    const spillDir = join(local, `skein-worker-skein-0-0-${worker.pid}`);
    expect(statSync(spillDir).mode & 0o777).toBe(0o700);

    const results = client.map(
      (seed: number, n: number) => {
        const bytes = new Uint8Array(n);
        for (let j = 0; j < n; j++) bytes[j] = (j * 31 + seed * 7 + (j >> 12)) & 255;
        return bytes;
      },
      Array.from({ length: RESULTS }, (_, i) => i),
      Array.from({ length: RESULTS }, () => RESULT_BYTES),
    );
    // Tasks read their inputs back from disk: a checksum of each, computed on the worker.
    const digests = client.map(async (bytes: Uint8Array) => {
      const { createHash } = await import("node:crypto");
      return createHash("sha256").update(bytes).digest("hex");
    }, results);
    const expected = Array.from({ length: RESULTS }, (_, i) => sha256(pattern(i, RESULT_BYTES)));
    expect(await client.gather(digests)).toEqual(expected);

    // 100 MB of results against a 50 MB target: at least 50 MB of them are on disk (with, maybe,
    // some of the small digests: least recently used goes first, whatever its size).
    const spilledBytes = () => readdirSync(spillDir).reduce((sum, file) => sum + statSync(join(spillDir, file)).size, 0);
    await until(() => spilledBytes() >= 50 * MB - RESULT_BYTES, { what: () => `50 MB of results spilled to disk (${spilledBytes()} bytes so far)` });
    for (const file of readdirSync(spillDir)) expect(statSync(join(spillDir, file)).mode & 0o777).toBe(0o600);

    // The client fetches them straight from the worker's data server, spilled or not.
    const back = await client.gather(results);
    expect(back.map((bytes) => sha256(bytes))).toEqual(expected);
    expect(back.every((bytes) => bytes.byteLength === RESULT_BYTES)).toBe(true);

    // Released results leave the disk too.
    for (const future of [...results, ...digests]) future.release();
    await until(() => readdirSync(spillDir).filter((f) => f !== ".owner").length === 0, { what: "the spill files of released results removed" });

    await client.close();
    await cluster.close();
    await expectNoProcessesLeft();
    expect(existsSync(spillDir)).toBe(false);
    expect(readdirSync(local)).toEqual([]);
  });

  it("the spill directory of a worker killed with kill -9 is removed by the next worker of that host", async () => {
    const local = tempDir("local");
    const { cluster } = await start(1, { processes: 1, cores: 1, memory: "100MB", localDirectory: local });
    const victim = workerNamed(cluster, "skein-0-0")!;
    const stale = join(local, `skein-worker-skein-0-0-${victim.pid}`);
    expect(existsSync(stale)).toBe(true);
    process.kill(victim.pid, "SIGKILL");
    // The supervisor starts a new process, whose own directory replaces the dead one's.
    await until(() => workerNamed(cluster, "skein-0-0")?.pid !== undefined && workerNamed(cluster, "skein-0-0")!.pid !== victim.pid, { what: "the worker restarted" });
    const fresh = join(local, `skein-worker-skein-0-0-${workerNamed(cluster, "skein-0-0")!.pid}`);
    await until(() => !existsSync(stale) && existsSync(fresh), { what: () => `only the new worker's directory in ${local} (${readdirSync(local).join(", ")})` });
  });

  it("an unwritable spill directory: one clear message naming the path and the cause, and the worker keeps computing", async () => {
    const { cluster, client } = await start(0, {});
    const notADirectory = join(tempDir("file"), "a-file");
    writeFileSync(notADirectory, "");
    const local = join(notADirectory, "spill");
    const bin = fileURLToPath(new URL("../../worker/dist/bin.js", import.meta.url));
    const worker = spawn(process.execPath, [bin, cluster.schedulerAddress, "--name", "nospill", "--memory-limit", "100MB", ...only({ "--memory-target": "0.5" })], {
      env: { ...process.env, SKEIN_SECRET: cluster.secret, SKEIN_TEST_MARK: TEST_MARK, SKEIN_LOCAL_DIRECTORY: local },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    worker.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      await cluster.waitForWorkers(1, { timeout: 30_000 });
      const results = client.map((seed: number, n: number) => new Uint8Array(n).fill(seed), Array.from({ length: RESULTS }, (_, i) => i), Array.from({ length: RESULTS }, () => RESULT_BYTES));
      const sums = client.map((bytes: Uint8Array) => bytes.reduce((s, b) => s + b, 0), results);
      expect(await client.gather(sums)).toEqual(Array.from({ length: RESULTS }, (_, i) => i * RESULT_BYTES));
      // Everything stayed with the worker (in memory, beyond the target: all it can do).
      expect(workerNamed(cluster, "nospill-0")!.nbytes).toBeGreaterThanOrEqual(RESULTS * RESULT_BYTES);

      const lines = stderr.split("\n").filter((line) => line.includes("spill"));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        new RegExp(`^\\[skein\\] worker nospill-0: cannot create the spill directory ${local}/skein-worker-nospill-0-\\d+: ENOTDIR: not a directory.*Spilling to disk is off`),
      );
      expect(lines[0]).toMatch(/--local-directory \(or SKEIN_LOCAL_DIRECTORY\)/);
    } finally {
      worker.kill("SIGTERM");
    }
  });
});

describe("pausing", () => {
  it("a memory hog pauses its worker: the scheduler sends it no new task, others run them, its data is still served, and it resumes once the hog lets go", async () => {
    // Two workers of 300 MB each; they pause above 80 % (240 MB). Nothing else, so that only the hog acts.
    const { cluster, client } = await start(2, { processes: 2, cores: 2, memory: "600MB", workerExtraArgs: only({ "--memory-pause": "0.8" }) });
    const hogWorker = workerNamed(cluster, "skein-0-0")!;
    const otherWorker = workerNamed(cluster, "skein-0-1")!;
    const on0 = client.with({ workers: "skein-0-0" });
    const held = on0.submit((n: number) => new Uint8Array(n).fill(7), 1_000_000);
    await held.result({ timeout: 30_000 });

    // The hog holds 250 MB until the test lets it go (a file appears).
    const release = join(tempDir("release"), "go");
    const hog = on0.submit(async (n: number, file: string) => {
      const { existsSync } = await import("node:fs");
      const bytes = new Uint8Array(n).fill(1);
      while (!existsSync(file)) await new Promise((resolve) => setTimeout(resolve, 20));
      return bytes.byteLength;
    }, 250_000_000, release);
    await until(() => hogWorker.status === "paused", { what: () => `skein-0-0 paused (its rss at the last heartbeat: ${hogWorker.metrics.rss})`, timeout: 30_000 });

    // New work goes to the running worker only, including work on data only the paused one holds.
    const runs = await client.gather(client.map((i: number) => ({ i, pid: process.pid }), [1, 2, 3, 4]));
    expect(new Set(runs.map((r) => r.pid))).toEqual(new Set([otherWorker.pid]));
    const reader = client.submit((bytes: Uint8Array) => ({ sum: bytes.reduce((s, b) => s + b, 0), pid: process.pid }), held);
    expect(await reader.result({ timeout: 30_000 })).toEqual({ sum: 7_000_000, pid: otherWorker.pid });
    // A paused worker still serves its data to clients.
    expect((await held.result({ timeout: 30_000 })).byteLength).toBe(1_000_000);
    // Work only the paused worker may do waits for it.
    const pinned = on0.submit(() => process.pid);
    await until(() => cluster.scheduler.state.tasks.get(pinned.key)?.status === "no-worker", { what: "the pinned task waiting for a running worker" });
    expect(hogWorker.status).toBe("paused");

    writeFileSync(release, "");
    expect(await hog.result({ timeout: 30_000 })).toBe(250_000_000);
    await until(() => hogWorker.status === "running", { what: "skein-0-0 running again once the hog let go", timeout: 30_000 });
    expect(await pinned.result({ timeout: 30_000 })).toBe(hogWorker.pid);
  });
});

describe("pausing on results held in memory", () => {
  it("results that fill a worker (spilling off) pause it, and releasing them lets it run again, every time", async () => {
    const { cluster, client } = await start(1, { processes: 1, cores: 1, memory: "300MB", workerExtraArgs: only({ "--memory-pause": "0.8" }) });
    const worker = workerNamed(cluster, "skein-0-0")!;
    // Large blocks get mappings of their own, which free() returns (see supervisor.ts).
    expect(readFileSync(`/proc/${worker.pid}/environ`, "utf8").split("\0")).toContain("MALLOC_MMAP_THRESHOLD_=1048576");
    // Twice: once freed, the memory must really leave the process (glibc's malloc would otherwise
    // keep the second round's buffers in its heap, and the worker would stay paused).
    for (const round of [1, 2]) {
      // 30 × 10 MB against a 240 MB pause threshold. (Functions travel by value, without their closure.)
      const results = client.map((i: number) => new Uint8Array(10_000_000).fill(i), Array.from({ length: 30 }, (_, i) => i));
      await until(() => worker.status === "paused", { what: () => `round ${round}: skein-0-0 paused (results done: ${results.filter((f) => f.status === "finished").length})`, timeout: 30_000 });
      // Paused, it runs none of the rest until memory goes down; releasing the results frees it (the
      // unfinished ones are cancelled).
      for (const future of results) future.release();
      await until(() => worker.status === "running" && worker.nbytes === 0, { what: () => `round ${round}: skein-0-0 running with no results (${worker.status}, ${worker.nbytes} bytes)`, timeout: 30_000 });
    }
    expect(await client.submit(() => process.pid).result({ timeout: 30_000 })).toBe(worker.pid);
  });
});

describe("terminating", () => {
  it("a task that allocates past the terminate threshold: the worker is restarted, the task rescheduled, and after 3 deaths it fails with KilledWorkerError", async () => {
    // Defaults: terminate at 95 % of 300 MB.
    const { cluster, client } = await start(1, { processes: 1, cores: 1, memory: "300MB" });
    const firstPid = workerNamed(cluster, "skein-0-0")!.pid;
    const runs = join(tempDir("runs"), "runs.log");
    const hog = client.submit(async (file: string) => {
      const { appendFileSync } = await import("node:fs");
      appendFileSync(file, `${process.pid}\n`);
      const bytes = new Uint8Array(400_000_000).fill(1);
      await new Promise((resolve) => setTimeout(resolve, 20_000));
      return bytes.byteLength;
    }, runs);
    const error = await hog.exception({ timeout: 60_000 });
    expect(error).toMatchObject({ remoteName: "KilledWorkerError", remoteCode: "SKEIN_ERR_KILLED_WORKER", key: hog.key });
    expect(error?.message).toMatch(/was running on 3 workers that died \(skein-0-0, skein-0-0, skein-0-0; last: process memory .* went above 285 MB, 95% of the 300 MB memory limit \(the terminate threshold\)\)/);
    // It ran three times, each time in a fresh process started by the supervisor.
    const pids = readFileSync(runs, "utf8").trim().split("\n");
    expect(pids).toHaveLength(3);
    expect(new Set(pids).size).toBe(3);
    expect(pids[0]).toBe(String(firstPid));
    // The cluster goes on with the restarted worker.
    await cluster.waitForWorkers(1, { timeout: 30_000 });
    expect(await client.submit((x: number) => x + 1, 1).result({ timeout: 30_000 })).toBe(2);
    expect(workerNamed(cluster, "skein-0-0")!.pid).not.toBe(firstPid);
  });
});
