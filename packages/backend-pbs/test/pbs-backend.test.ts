/** PBS-specific behaviour on the test cluster (Slurm's Torque wrappers), beyond the shared conformance suite. */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { BatchCommandError, SKEIN_ERROR_CODES, createCluster, type Cluster, type ClusterBackend, type CreateClusterOptions, type JobId } from "@skein/core";
import { pbsBackend } from "../src/index.js";
import { describeOnTestCluster, until } from "./helpers.js";

describeOnTestCluster("pbs backend on the Torque wrappers", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "skein-pbs-it-"));
  });
  const started: { clusters: Cluster[]; jobs: [ClusterBackend, JobId][] } = { clusters: [], jobs: [] };

  afterEach(async () => {
    for (const cluster of started.clusters.splice(0)) await cluster.close();
    for (const [backend, id] of started.jobs.splice(0)) await backend.cancel([id]);
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const cluster = async (options: CreateClusterOptions): Promise<Cluster> => {
    const c = await createCluster({ backend: "pbs", interface: "lo", sharedDirectory: dir, pollInterval: 1, ...options }, { cwd: dir, env: {}, userConfigDir: join(dir, "none") });
    started.clusters.push(c);
    return c;
  };

  it("a refused submission rejects scale() with qsub's command, exit code and output", async () => {
    const c = await cluster({ name: "toobig", memory: "512GB" });
    const error = await c.scale(1).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(BatchCommandError);
    const failure = error as BatchCommandError;
    expect(failure.code).toBe(SKEIN_ERROR_CODES.COMMAND_FAILED);
    expect(failure.command).toMatch(/^qsub -j oe -o \S+\/toobig-[0-9a-f]{8}\.out \S+\/toobig-[0-9a-f]{8}\.sh$/);
    expect(failure.exitCode).toBe(1);
    expect(failure.stdout).toContain("There was an error running the Slurm sbatch command");
    expect(failure.message).toContain("Memory specification can not be satisfied");
    expect(c.jobs).toEqual([]);
  }, 120_000);

  it("a tcsh job that reads $PBS_JOBID dies at once, and the error shows tcsh's own message", async () => {
    const c = await cluster({ name: "tcshfail", shebang: "#!/bin/tcsh", jobScriptPrologue: ["echo job $PBS_JOBID"] });
    await c.scale(1);
    const started = Date.now();
    const error = await c.waitForWorkers(1, { timeout: 60_000 }).then(() => undefined, (e: unknown) => e as Error & { code?: string });
    expect(error?.code).toBe(SKEIN_ERROR_CODES.JOB_FAILED_BEFORE_CONNECT);
    expect(error?.message).toContain("PBS_JOBID: Undefined variable.");
    expect(Date.now() - started).toBeLessThan(30_000);
  }, 120_000);

  it("logs() returns stdout and stderr from the one -j oe file, and the script file is gone after qsub", async () => {
    const backend = pbsBackend({ queue: "batch" });
    const secretFile = join(dir, "secret");
    writeFileSync(secretFile, "s\n", { mode: 0o600 });
    const name = `logs${Date.now().toString(36)}`;
    const id = await backend.submit({
      name,
      workerProcesses: 1,
      threadsPerWorker: 1,
      cores: 1,
      schedulerAddress: "ws://127.0.0.1:9",
      secret: "s",
      secretFile,
      workerCommand: [process.execPath, "-e", 'console.log("to stdout"); console.error("to stderr")'],
      workerArgs: [],
      env: {},
      prologue: [],
    });
    started.jobs.push([backend, id]);
    const scripts = readdirSync(tmpdir()).filter((d) => d.startsWith("skein-pbs-")).flatMap((d) => (existsSync(join(tmpdir(), d)) ? readdirSync(join(tmpdir(), d)) : []));
    expect(scripts.filter((f) => f.startsWith(name))).toEqual([]);
    await until(() => `job ${id} to exit`, async () => (await backend.status([id])).get(id)?.state === "exited", 60_000);
    const logs = await until(() => `job ${id}'s output`, async () => ((await backend.logs?.(id))?.stdout.includes("to stderr") ? backend.logs?.(id) : undefined), 10_000);
    expect(logs.stdout).toContain("to stdout\n");
    expect(logs.stdout).toContain("to stderr\n");
  }, 120_000);
});
