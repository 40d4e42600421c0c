/**
 * Batch commands fail in real life: the server is restarting, a node is unreachable, qsub hangs.
 * These tests put a thin wrapper in front of the real qsub/qstat/qdel of the test cluster (the real
 * systems cannot fail on demand) and check what the user sees: errors surface with the command's
 * own words, polling backs off and recovers, nothing is submitted twice, and close cancels what it
 * can and names what it could not.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { createCluster, type Cluster, type JobId } from "@skein/core";
import { pbsBackend } from "../src/index.js";
import { describeOnTestCluster, squeueNames, until } from "./helpers.js";

describeOnTestCluster("pbs clusters when qsub, qstat or qdel misbehave", () => {
  let dir: string;
  let cluster: Cluster | undefined;
  /** Jobs to remove with the real qdel after each test, whatever the test did. */
  let leftovers: JobId[] = [];

  const stateDir = process.env.SKEIN_STATE_DIR;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "skein-pbs-flaky-"));
    // A close that fails keeps its jobs in the ledger, by design: keep that ledger out of the user's.
    process.env.SKEIN_STATE_DIR = join(dir, "state");
  });
  let onCleanup: (() => void) | undefined;
  afterEach(async () => {
    onCleanup?.();
    onCleanup = undefined;
    await cluster?.close().catch(() => undefined);
    cluster = undefined;
    await pbsBackend().cancel(leftovers);
    leftovers = [];
  });
  afterAll(() => {
    if (stateDir === undefined) delete process.env.SKEIN_STATE_DIR;
    else process.env.SKEIN_STATE_DIR = stateDir;
    rmSync(dir, { recursive: true, force: true });
  });

  /** A wrapper script: logs each call, then runs `body` (which may `exec` the real command). */
  const wrapper = (name: string, body: string): { path: string; calls(): number } => {
    const path = join(dir, name);
    const log = join(dir, `${name}.calls`);
    writeFileSync(log, "");
    writeFileSync(path, `#!/bin/sh\necho "$*" >> '${log}'\n${body}\n`, { mode: 0o700 });
    return { path, calls: () => readFileSync(log, "utf8").split("\n").filter(Boolean).length };
  };

  const start = (name: string, options: Record<string, unknown>) =>
    createCluster(
      { backend: "pbs", name, cores: 1, processes: 1, interface: "lo", sharedDirectory: dir, ...options },
      { cwd: dir, env: {}, userConfigDir: join(dir, "none") },
    );

  it("a failing qstat is reported, polled less and less often, and polling recovers when it answers again", async () => {
    const flag = join(dir, "qstat-down");
    onCleanup = () => rmSync(flag, { force: true });
    writeFileSync(flag, "");
    const qstat = wrapper("qstat-flaky", `if [ -e '${flag}' ]; then echo "qstat: cannot connect to server (simulated outage)" >&2; exit 1; fi\nexec qstat "$@"`);
    cluster = await start("flakyqstat", { pollInterval: 0.2, commands: { status: [qstat.path, "-f"] } });
    await cluster.scale(1);
    leftovers = cluster.jobs.map((j) => j.id);

    // The worker connects whatever qstat says; asking for more than can come shows the status error.
    const waited = await cluster.waitForWorkers(2, { timeout: 4000 }).catch((e: unknown) => e as Error);
    expect(waited?.message).toMatch(/Last status error: [\s\S]*qstat-flaky -f \S+ failed with exit code 1[\s\S]*cannot connect to server \(simulated outage\)/);
    const duringOutage = qstat.calls();
    // Every 0.2 s would be 20 calls in 4 s; doubling the wait after each failure makes it about 4.
    expect(duringOutage).toBeGreaterThanOrEqual(2);
    expect(duringOutage).toBeLessThanOrEqual(6);

    rmSync(flag);
    onCleanup = undefined;
    // The next poll (after the longest wait so far) succeeds, and resets the interval.
    await until(() => "a status poll after the outage", () => qstat.calls() > duringOutage, 15_000);
    const recovered = qstat.calls();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    // Back to the normal interval: several polls in 2 s, not one.
    expect(qstat.calls() - recovered).toBeGreaterThanOrEqual(4);
  }, 60_000);

  it("a refused qsub rejects scale with qsub's words and submits nothing twice", async () => {
    const counter = join(dir, "qsub-count");
    // The cluster submits its jobs concurrently: the counter is read and bumped under a lock, or
    // two calls could both see 1 and both fail.
    const qsub = wrapper(
      "qsub-second-fails",
      `exec 9> '${counter}.lock'; flock 9\n` +
        `n=$(cat '${counter}' 2>/dev/null || echo 0); n=$((n + 1)); echo $n > '${counter}'\nflock -u 9\n` +
        `if [ $n -eq 2 ]; then echo "qsub: Job rejected by all possible destinations (simulated)" >&2; exit 1; fi\nexec qsub "$@"`,
    );
    cluster = await start("flakyqsub", { commands: { submit: [qsub.path] } });
    const error = await cluster.scale(3).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    leftovers = cluster.jobs.map((j) => j.id);
    expect(error?.message).toMatch(/Job rejected by all possible destinations \(simulated\)/);
    expect(error?.message).toMatch(/exit code 1/);
    // Every job the batch system has is one the cluster knows (and will cancel): none untracked, none twice.
    const inQueue = squeueNames().filter((n) => n === "flakyqsub").length;
    expect(inQueue).toBe(cluster.jobs.length);
    expect(qsub.calls()).toBe(cluster.jobs.length + 1);
    await cluster.close();
    expect(squeueNames().filter((n) => n === "flakyqsub")).toEqual([]);
  }, 60_000);

  it("garbage: a banner around qsub's id is fine; qsub without an id and qstat printing nonsense are errors quoting the output; polling recovers", async () => {
    const banner = wrapper("qsub-banner", `echo "*** Welcome to vortex: maintenance on Friday ***"; qsub "$@" || exit $?; echo "(end of motd)"`);
    const flag = join(dir, "qstat-garbage-on");
    onCleanup = () => rmSync(flag, { force: true });
    writeFileSync(flag, "");
    const qstat = wrapper("qstat-garbage", `if [ -e '${flag}' ]; then echo "<html><body>502 Bad Gateway</body></html>"; exit 0; fi\nexec qstat "$@"`);
    cluster = await start("garbage", { pollInterval: 0.2, commands: { submit: [banner.path], status: [qstat.path, "-f"] } });
    await cluster.scale(1);
    leftovers = cluster.jobs.map((j) => j.id);
    expect(cluster.jobs.map((j) => j.id)).toEqual([expect.stringMatching(/^\d+$/)]);
    // The garbage is an error (the job is not taken for gone), quoted for the user.
    const waited = await cluster.waitForWorkers(2, { timeout: 3000 }).catch((e: unknown) => e as Error);
    expect(waited?.message).toMatch(/Last status error: [\s\S]*cannot parse qstat -f output[\s\S]*502 Bad Gateway/);
    expect(cluster.jobs).toHaveLength(1);
    rmSync(flag);
    await cluster.waitForWorkers(1, { timeout: 30_000 });

    const silent = wrapper("qsub-no-id", `qsub "$@" > /dev/null || exit $?; echo "Your job has been submitted. Have a nice day."`);
    const other = await start("garbage2", { commands: { submit: [silent.path] } });
    try {
      await expect(other.scale(1)).rejects.toThrow(/a job named garbage2 may have been submitted all the same: look for it in the batch system.s queue and cancel it there[\s\S]*expected qsub to print one job id[\s\S]*Have a nice day/);
      expect(other.jobs).toEqual([]);
    } finally {
      await other.close().catch(() => undefined);
      // That job was submitted but could not be tracked: its worker connects to nobody and it ends (or we cancel it).
      execFileSync("sh", ["-c", "scancel --name=garbage2 || true"]);
    }
    await until(() => "no garbage2 job in squeue", () => !squeueNames().includes("garbage2"), 30_000);
  }, 90_000);

  it("a qsub that hangs is killed after submitCommandTimeout, and the error says so", async () => {
    const qsub = wrapper("qsub-hangs", "exec sleep 61");
    cluster = await start("hungqsub", { submitCommandTimeout: 2, commands: { submit: [qsub.path] } });
    const began = Date.now();
    await expect(cluster.scale(1)).rejects.toThrow(/did not finish within 2 s and was killed/);
    expect(Date.now() - began).toBeLessThan(20_000);
    expect(cluster.jobs).toEqual([]);
    expect(qsub.calls()).toBe(1);
    // The hung command was killed, not left behind.
    expect(execFileSync("ps", ["-eo", "args"], { encoding: "utf8" }).split("\n")).not.toContain("sleep 61");
  }, 60_000);

  it("close cancels what it can and names, at once, the queued jobs it could not", async () => {
    const qdel = wrapper("qdel-fails", `echo "qdel: cannot connect to server (simulated)" >&2\nexit 1`);
    // Three jobs that each take a whole 48-core node of the one c18a: one runs, two wait in the queue.
    cluster = await start("flakyqdel", { cores: 48, processes: 1, resourceSpec: "nodes=1:c18a:ppn=48", commands: { cancel: [qdel.path] } });
    await cluster.scale(3);
    leftovers = cluster.jobs.map((j) => j.id);
    await cluster.waitForWorkers(1, { timeout: 60_000 });
    await until(() => "two jobs seen queued", () => cluster?.jobs.filter((j) => j.state.state === "queued").length === 2, 30_000);
    const queued = cluster.jobs.filter((j) => j.state.state === "queued").map((j) => j.id);

    const began = Date.now();
    const error = await cluster.close().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    // The running job ended by itself (its worker was told to leave); the queued ones needed qdel.
    expect(error?.message).toMatch(/cannot connect to server \(simulated\)/);
    for (const id of queued) expect(error?.message).toContain(id);
    expect(error?.message).toMatch(/skein jobs cancel/);
    // Not the full close timeout: waiting cannot make a job whose qdel failed go away.
    expect(Date.now() - began).toBeLessThan(30_000);
    expect(qdel.calls()).toBeGreaterThanOrEqual(1);
    expect(squeueNames().filter((n) => n === "flakyqdel")).toHaveLength(2);
  }, 120_000);
});
