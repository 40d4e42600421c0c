/**
 * Losing workers loses no result a user still holds a future for: kill -9 and SIGSTOP of real
 * worker processes, lineage recomputation, and the limit on tasks that keep killing workers. Losing
 * the scheduler is a clear error for the client, and the end of its workers.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { Client, KilledWorkerError, RemoteTaskError, SKEIN_ERROR_CODES, createCluster, type Cluster, type CreateClusterOptions } from "@skein/core";
import { readSecretFile } from "@skein/transport";
import { TEST_MARK, expectNoProcessesLeft, until } from "./helpers.js";

let cluster: Cluster | undefined;
let client: Client | undefined;

afterEach(async () => {
  await client?.close();
  await cluster?.close();
  client = undefined;
  cluster = undefined;
  await expectNoProcessesLeft();
});

async function start(workers: number, options: CreateClusterOptions = {}) {
  cluster = await createCluster({ backend: "local", ...options }, { env: {}, userConfigDir: "/nonexistent" });
  await cluster.scale(workers);
  await cluster.waitForWorkers(workers, { timeout: 30_000 });
  client = await Client.connect(cluster);
  return { cluster, client };
}

const workerNamed = (c: Cluster, name: string) => [...c.scheduler.state.workers.values()].find((w) => w.name === name);

describe("a worker dies (kill -9)", () => {
  it("its running tasks go back, its results are recomputed from lineage, and every answer is right", async () => {
    const { cluster, client } = await start(2);
    const log = join(mkdtempSync(join(tmpdir(), "skein-lineage-")), "runs.log");
    // Inputs pinned on the victim; their dependents run elsewhere after it dies.
    const inputs = client.with({ workers: "skein-0-0", allowOtherWorkers: true }).map(
      async (i: number, file: string) => {
        const { appendFileSync } = await import("node:fs");
        appendFileSync(file, `input-${i}\n`);
        return i * 10;
      },
      [1, 2, 3],
      [log, log, log],
    );
    await client.wait(inputs);
    const victim = workerNamed(cluster, "skein-0-0")!;
    process.kill(victim.pid, "SIGKILL");
    await until(() => !workerNamed(cluster, "skein-0-0") || workerNamed(cluster, "skein-0-0")!.pid !== victim.pid, { what: "the scheduler to notice the dead worker" });
    const sums = client.map((x: number) => x + 1, inputs);
    expect(await client.gather(sums)).toEqual([11, 21, 31]);
    // Each input ran once before the kill and once more to recompute it.
    const runs = readFileSync(log, "utf8").trim().split("\n").sort();
    expect(runs).toEqual(["input-1", "input-1", "input-2", "input-2", "input-3", "input-3"]);
  });

  it("scattered data it alone held cannot be recomputed: whoever needs it gets an error naming it (remoteCode SKEIN_ERR_DATA_LOST)", async () => {
    const { cluster, client } = await start(2);
    const data = (await client.scatter([{ rows: [1, 2, 3] }], { workers: "skein-0-0" }))[0]!;
    const victim = workerNamed(cluster, "skein-0-0")!;
    process.kill(victim.pid, "SIGKILL");
    await until(() => workerNamed(cluster, "skein-0-0")?.pid !== victim.pid, { what: "the scheduler to notice the dead worker" });
    const error = await data.exception({ timeout: 20_000 });
    expect(error).toMatchObject({ remoteCode: "SKEIN_ERR_DATA_LOST", key: data.key });
    expect(error?.message).toContain("cannot be recomputed (it was scattered, not computed). Scatter it again.");
    // A task that needs it fails the same way instead of waiting for data that will never come.
    const dependent = client.submit((d: { rows: number[] }) => d.rows.length, data);
    const dependentError = await dependent.exception({ timeout: 20_000 });
    expect(dependentError?.message).toContain(data.key);
    // Scattering it again brings it back.
    const again = (await client.scatter([{ rows: [1, 2, 3] }]))[0]!;
    expect(await client.submit((d: { rows: number[] }) => d.rows.length, again).result({ timeout: 20_000 })).toBe(3);
  });

  it("a task that kills every worker it runs on fails with KilledWorkerError after 3 tries", async () => {
    const { client } = await start(2);
    const deadly = client.submit(() => {
      process.kill(process.pid, "SIGKILL");
      return "never";
    });
    const error = await deadly.exception({ timeout: 60_000 });
    expect(error).toMatchObject({ code: "SKEIN_ERR_TASK_FAILED", remoteName: "KilledWorkerError", remoteCode: "SKEIN_ERR_KILLED_WORKER", key: deadly.key });
    expect(error?.message).toMatch(/was running on 3 workers that died/);
    expect(error).toBeInstanceOf(KilledWorkerError);
    expect(error).toBeInstanceOf(RemoteTaskError);
    expect((error as KilledWorkerError).workers).toHaveLength(3);
    expect(error?.message).toContain(`(${(error as KilledWorkerError).workers.join(", ")}; last:`);
    expect((error as KilledWorkerError).workers.every((name) => name.startsWith("skein-"))).toBe(true);
    // The cluster keeps working (the supervisor restarted the workers).
    expect(await client.submit((x: number) => x + 1, 1).result({ timeout: 30_000 })).toBe(2);
  });

  it("allowedFailures sets how many deaths a task may cause: 1 fails it at the first", async () => {
    const { client } = await start(2, { allowedFailures: 1 });
    const deadly = client.submit(() => process.kill(process.pid, "SIGKILL"));
    const error = await deadly.exception({ timeout: 60_000 });
    expect(error).toBeInstanceOf(KilledWorkerError);
    expect((error as KilledWorkerError).workers).toHaveLength(1);
    expect(error?.message).toMatch(/was running on 1 workers that died .* the limit is 1 \(allowedFailures\)/);
  });
});

describe("a worker hangs (SIGSTOP)", () => {
  it("is dropped after a missed heartbeat, its tasks rerun elsewhere, and it leaves when it wakes up", async () => {
    const { cluster, client } = await start(2);
    const victim = workerNamed(cluster, "skein-0-0")!;
    const slow = client.with({ workers: "skein-0-0", allowOtherWorkers: true }).submit((ms: number) => new Promise((r) => setTimeout(() => r(process.pid), ms)), 3000);
    await until(() => cluster.scheduler.state.tasks.get(slow.key)?.status === "processing", { what: "the task running" });
    process.kill(victim.pid, "SIGSTOP");
    try {
      await until(() => !workerNamed(cluster, "skein-0-0"), { what: "the stopped worker dropped", timeout: 20_000 });
      expect(await slow.result({ timeout: 30_000 })).not.toBe(victim.pid);
    } finally {
      process.kill(victim.pid, "SIGCONT");
    }
    // Woken up, it finds its connection gone and exits instead of lingering.
    await until(
      () => {
        try {
          process.kill(victim.pid, 0);
          return false;
        } catch {
          return true;
        }
      },
      { what: "the woken worker process to exit", timeout: 20_000 },
    );
  }, 90_000);
});

describe("the scheduler dies or hangs", () => {
  const cli = fileURLToPath(new URL("../../cli/dist/cli.js", import.meta.url));
  const env = { ...process.env, SKEIN_TEST_MARK: TEST_MARK };
  let scheduler: ReturnType<typeof spawn> | undefined;
  afterEach(() => {
    scheduler?.kill("SIGKILL");
    scheduler = undefined;
  });

  /** `skein scheduler` and `skein worker --nworkers 2` as processes of their own, a client, and a 60 s task running. */
  async function standalone(options: { workerArgs?: string[]; heartbeatTimeout?: number } = {}) {
    const secretFile = join(mkdtempSync(join(tmpdir(), "skein-scheduler-lost-")), "secret");
    const started = spawn(process.execPath, [cli, "scheduler", "--port", "0", "--secret-file", secretFile, "--no-dashboard"], { env, stdio: ["ignore", "pipe", "ignore"] });
    scheduler = started;
    let out = "";
    started.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString()));
    const address = await until(() => /listening on (ws:\/\/[\d.]+:\d+)/.exec(out)?.[1], { what: "the scheduler address" });
    const worker = spawn(process.execPath, [cli, "worker", address, "--nworkers", "2", "--name", "orphan", ...(options.workerArgs ?? [])], { env: { ...env, SKEIN_SECRET_FILE: secretFile }, stdio: "ignore" });
    const workerExit = new Promise<number | null>((resolve) => worker.on("exit", (code) => resolve(code)));
    client = await Client.connect(address, { secret: readSecretFile(secretFile), ...(options.heartbeatTimeout ? { heartbeatTimeout: options.heartbeatTimeout } : {}) });
    await client.waitForWorkers(2, { timeout: 20_000 });
    const busy = client.submit((ms: number) => new Promise((r) => setTimeout(r, ms)), 60_000);
    await until(async () => (await client!.identity()).workers.some((w) => w.processing > 0), { what: "the task running" });
    return { scheduler: started, address, workerExit, busy };
  }

  const exitedWithin = (exit: Promise<number | null>, ms: number) => Promise.race([exit.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

  it("kill -9: a client waiting for a result gets a clear error at once, and the workers exit by themselves", async () => {
    const { scheduler, address, workerExit, busy } = await standalone();
    scheduler.kill("SIGKILL");
    const error = await busy.exception({ timeout: 20_000 });
    expect(error).toMatchObject({ code: SKEIN_ERROR_CODES.CLOSED });
    expect(error?.message).toContain(`lost the connection to the scheduler at ${address}`);
    // New calls fail the same way instead of hanging.
    expect(() => client!.submit((x: number) => x, 1)).toThrow(/lost the connection to the scheduler/);
    // The workers notice (their connection drops) and leave, busy task and all; their supervisor exits.
    expect(await exitedWithin(workerExit, 20_000)).toBe(true);
  }, 60_000);

  it("SIGSTOP: heartbeats go unanswered; the client fails its waiting calls and the workers leave after their timeouts", async () => {
    const { scheduler, address, workerExit, busy } = await standalone({ workerArgs: ["--death-timeout", "4"], heartbeatTimeout: 4000 });
    scheduler.kill("SIGSTOP");
    try {
      const error = await busy.exception({ timeout: 30_000 });
      expect(error).toMatchObject({ code: SKEIN_ERROR_CODES.CLOSED });
      expect(error?.message).toContain(`lost the connection to the scheduler at ${address} (no answer to heartbeats for 4 s`);
      expect(await exitedWithin(workerExit, 30_000)).toBe(true);
    } finally {
      scheduler.kill("SIGCONT");
    }
  }, 90_000);
});
