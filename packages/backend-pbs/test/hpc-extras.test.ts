/**
 * HPC extras on the test cluster through qsub/qstat/qdel (Slurm's Torque wrappers): queue caps with
 * jobs that really queue, and the scheduler in a batch job of its own. (Job arrays and multi-node
 * jobs run in the conformance suite, test/conformance.test.ts.)
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { Client, SKEIN_ERROR_CODES, createCluster, defaultSchedulerCommand, defaultWorkerCommand, type Cluster, type CreateClusterOptions } from "@skein/core";
import { describeOnTestCluster, processesWith, qstatJobs, squeueNames, until } from "./helpers.js";

describeOnTestCluster("pbs: queue caps and the scheduler in a job, on the Torque wrappers", () => {
  let dir: string;
  const clusters: Cluster[] = [];
  const clients: Client[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "skein-pbs-extras-"));
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.close().catch(() => undefined);
    for (const cluster of clusters.splice(0)) await cluster.close();
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const cluster = async (options: CreateClusterOptions): Promise<Cluster> => {
    const c = await createCluster({ backend: "pbs", queue: "batch", interface: "lo", sharedDirectory: dir, pollInterval: 1, ...options }, { cwd: dir, env: {}, userConfigDir: join(dir, "none") });
    clusters.push(c);
    return c;
  };

  it("maxQueuedJobs: 48-core jobs on the 48-core c18a queue for real; never more than 1 waits, the rest follow as jobs start; told once", async () => {
    const notices: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      if (String(chunk).includes("[skein]")) notices.push(String(chunk));
      return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    });
    // Sample what the batch system says about this cluster's jobs, all along.
    let maxQueued = 0;
    let ours: string[] = [];
    const sampler = setInterval(() => {
      const queued = qstatJobs().filter((j) => ours.includes(j.id) && j.state === "Q").length;
      maxQueued = Math.max(maxQueued, queued);
    }, 300);
    try {
      // Each job takes the whole c18a node (48 cores) but runs one small worker.
      const c = await cluster({ name: "capped", resourceSpec: "nodes=1:c18a:ppn=48", cores: 1, processes: 1, maxQueuedJobs: 1 });
      const track = () => (ours = [...new Set([...ours, ...c.jobs.map((j) => j.id)])]);
      await c.scale(3);
      track();
      // Nothing was queued yet, so one job was submitted; the other two wait for the queue.
      expect(c.jobs).toHaveLength(1);
      // The first job starts; the second is submitted and queues behind it (c18a is full).
      const [first] = c.jobs;
      await until(() => `a second job, queued (jobs: ${JSON.stringify(c.jobs.map((j) => [j.id, j.state]))})`, () => track() && c.jobs.length === 2 && c.jobs[1]?.state.state === "queued" && c.workers.length === 1, 60_000);
      const second = c.jobs[1];
      expect(qstatJobs().find((j) => j.id === second?.id)?.state).toBe("Q");
      // It stays that way: a third job would only queue too.
      await new Promise((r) => setTimeout(r, 4000));
      track();
      expect(c.jobs.map((j) => j.id)).toEqual([first?.id, second?.id]);
      // The first job ends (as at its walltime): the second starts, and only then is the third submitted.
      execFileSync("qdel", [first?.id as string]);
      await until(() => `the third job (jobs: ${JSON.stringify(c.jobs.map((j) => [j.id, j.state]))})`, () => track() && c.jobs.some((j) => j.id !== first?.id && j.id !== second?.id), 60_000);
      await until(() => "the second job's worker", () => c.workers.some((w) => w.jobId === second?.id), 60_000);
      track();
      expect(ours).toHaveLength(3);
      await new Promise((r) => setTimeout(r, 1000));
      expect(maxQueued).toBe(1);
      const capNotices = notices.filter((n) => n.includes("maxQueuedJobs"));
      expect(capNotices).toEqual(["[skein] cluster capped: 3 jobs wanted, but maxQueuedJobs is 1: submitting 1 now, the rest as the queue allows\n"]);
      await c.close();
      expect(qstatJobs().filter((j) => ours.includes(j.id) && j.state !== "C")).toEqual([]);
    } finally {
      clearInterval(sampler);
      spy.mockRestore();
    }
  }, 240_000);

  it("scheduler: { inJob: true }: the scheduler runs in its own job, workers and clients find it through the file, map/map/sum = -96, and close leaves no job", async () => {
    const c = await cluster({ name: "sijob", shebang: "#!/bin/tcsh", cores: 2, processes: 2, scheduler: { inJob: true } });
    const job = c.schedulerJob;
    expect(job).toBeDefined();
    const { id: schedulerJobId, schedulerFile } = job as NonNullable<typeof job>;
    expect(() => c.scheduler).toThrow(/runs in batch job/);
    // The file: 0600, written by a process that is not this one, naming the address the cluster uses.
    expect(statSync(schedulerFile).mode & 0o777).toBe(0o600);
    const contents = JSON.parse(readFileSync(schedulerFile, "utf8")) as { address: string; pid: number; host: string; dashboard?: string };
    expect(contents.address).toBe(c.schedulerAddress);
    expect(contents.pid).not.toBe(process.pid);
    expect(c.dashboardLink).toBe(contents.dashboard);
    expect(qstatJobs().find((j) => j.id === schedulerJobId)).toMatchObject({ name: "sijob-scheduler", state: "R" });
    // Workers are pointed at the file, not at an address.
    expect(c.jobScript()).toContain(`--scheduler-file ${schedulerFile}`);

    await c.scale(4);
    const ids = c.jobs.map((j) => j.id);
    expect(ids).toHaveLength(2);
    await c.waitForWorkers(4, { timeout: 90_000 });
    const client = await Client.connect(c);
    clients.push(client);
    const A = client.map((x: number) => x * 2, Array(48).fill(1));
    const B = client.map((x: number) => -x, A);
    expect(await client.submit((xs: number[]) => xs.reduce((a, b) => a + b, 0), B).result()).toBe(-96);
    // Another client finds the scheduler through the file alone.
    const viaFile = await Client.connectSchedulerFile(schedulerFile);
    clients.push(viaFile);
    expect(viaFile.schedulerAddress).toBe(c.schedulerAddress);
    expect((await viaFile.identity()).workers).toHaveLength(4);

    const address = c.schedulerAddress;
    await c.close();
    expect(qstatJobs().filter((j) => [...ids, schedulerJobId].some((id) => id === j.id) && j.state !== "C")).toEqual([]);
    // qstat says C at once; Slurm may list the scheduler's job as completing a moment longer while
    // the scheduler sends its workers away (SIGTERM first, as the wrappers' qdel does).
    await until(() => `no sijob job in squeue (${squeueNames().join(", ")})`, () => !squeueNames().some((n) => n.startsWith("sijob")), 30_000);
    expect(existsSync(schedulerFile)).toBe(false);
    await until(() => `no process of ${address} left`, () => processesWith(address).length === 0 && processesWith(schedulerFile).length === 0, 30_000);
  }, 240_000);

  it("a scheduler job that dies before writing the file fails createCluster with its output, and leaves no job", async () => {
    const error = await cluster({ name: "sijobfail", scheduler: { inJob: true, command: [process.execPath, "-e", "console.error('no scheduler today'); process.exit(3)"] } }).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(error?.code).toBe(SKEIN_ERROR_CODES.JOB_FAILED_BEFORE_CONNECT);
    expect(error?.message).toMatch(/the scheduler's job \S+ \(pbs\) ended before it wrote the scheduler file/);
    expect(error?.message).toContain("no scheduler today");
    expect(squeueNames().filter((n) => n.startsWith("sijobfail"))).toEqual([]);
  }, 120_000);

  it("walltime: an adaptive cluster submits a job's successor before its workers leave, so even scattered data survives", async () => {
    // 60 s walltime: workers leave between 38 s and 45 s, well before Slurm's kill at 60 s.
    const c = await cluster({ name: "renew", resourceSpec: "nodes=1:vortex:ppn=2", cores: 2, processes: 2, walltime: "00:01:00" });
    c.adapt({ minimum: 2, maximum: 2 });
    await c.waitForWorkers(2, { timeout: 60_000 });
    const client = await Client.connect(c);
    clients.push(client);
    // Scattered data has no lineage: it survives only if it is handed over.
    const [data] = await client.scatter([new Float64Array(1000).fill(7)]);
    const [first] = c.jobs;
    let fewestWorkers = Number.POSITIVE_INFINITY;
    const sampler = setInterval(() => (fewestWorkers = Math.min(fewestWorkers, c.workers.length)), 200);
    try {
      await until(
        () => `job ${first?.id} replaced (jobs: ${JSON.stringify(c.jobs.map((j) => [j.id, j.state.state, j.workers]))})`,
        () => !c.jobs.some((j) => j.id === first?.id) && c.jobs.length === 1 && c.workers.length === 2,
        90_000,
      );
    } finally {
      clearInterval(sampler);
    }
    // The successor was running before the first job's workers left: never fewer than 2 workers.
    expect(fewestWorkers).toBe(2);
    expect(c.jobs[0]?.id).not.toBe(first?.id);
    const values = await data?.result();
    expect(values?.length).toBe(1000);
    expect(values?.every((v: number) => v === 7)).toBe(true);
  }, 150_000);
});

describe("skein worker --scheduler-file and skein scheduler --scheduler-file (no batch system needed)", () => {
  it("a worker started before the scheduler waits for the file, connects, and leaves with it; the file is 0600 and removed on exit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skein-scheduler-file-"));
    const secretFile = join(dir, "secret");
    const schedulerFile = join(dir, "scheduler.json");
    writeFileSync(secretFile, "early-bird-secret\n", { mode: 0o600 });
    const [node, workerBin] = defaultWorkerCommand() as [string, string];
    const [, cli] = defaultSchedulerCommand() as [string, string];
    const env = { PATH: process.env.PATH ?? "", HOME: dir, SKEIN_SECRET_FILE: secretFile };
    const worker = spawn(node, [workerBin, "--scheduler-file", schedulerFile, "--name", "early", "--death-timeout", "30"], { env, stdio: "ignore" });
    const workerExit = new Promise<number | null>((resolve) => worker.on("exit", (code) => resolve(code)));
    let scheduler: ReturnType<typeof spawn> | undefined;
    try {
      await new Promise((r) => setTimeout(r, 1500));
      expect(worker.exitCode).toBeNull();
      scheduler = spawn(node, [cli, "scheduler", "--port", "0", "--secret-file", secretFile, "--scheduler-file", schedulerFile, "--no-dashboard"], { env, stdio: "ignore" });
      const client = await Client.connectSchedulerFile(schedulerFile, { timeout: 20_000 });
      try {
        await client.waitForWorkers(1, { timeout: 30_000 });
        expect(client.workers).toEqual(["early-0"]);
        expect(statSync(schedulerFile).mode & 0o777).toBe(0o600);
        expect(JSON.parse(readFileSync(schedulerFile, "utf8"))).toMatchObject({ address: client.schedulerAddress, pid: scheduler.pid, secretFile });
      } finally {
        await client.close();
      }
      scheduler.kill("SIGTERM");
      expect(await workerExit).toBe(0);
      await until(() => "the scheduler file removed", () => !existsSync(schedulerFile), 10_000);
    } finally {
      worker.kill("SIGKILL");
      scheduler?.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
