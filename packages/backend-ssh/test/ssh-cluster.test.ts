/**
 * The ssh backend against the real loopback sshd: a Cluster scaled over ssh computes, keeps the
 * secret off every command line, and leaves no worker, ssh client or control master behind; ssh
 * failures reject `scale()` with ssh's own words; a dead ssh client ends its remote workers.
 */
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { Client, SKEIN_ERROR_CODES, createCluster, type Cluster, type CreateClusterOptions } from "@skein/core";
import type { SshBackend } from "../src/index.js";
import { commandLineOf, describeWithSsh, environmentOf, parentOf, processesWithCommandLine, processesWithMark, until } from "./ssh-target.js";

/** Every process this file starts carries the mark: ssh clients and masters inherit it, remote workers get it through `env`. */
const MARK = `skein-ssh-test-${randomUUID()}`;
process.env.SKEIN_TEST_MARK = MARK;
const double = (x: number) => x * 2;
const neg = (x: number) => -x;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describeWithSsh("ssh backend on the test cluster's sshd", (target) => {
  const clusters: Cluster[] = [];
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "skein-ssh-test-"));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const start = async (options: CreateClusterOptions = {}): Promise<Cluster> => {
    const cluster = await createCluster(
      {
        backend: "ssh",
        hosts: [target.entry],
        identityFile: target.identityFile,
        knownHostsFile: target.knownHostsFile,
        processes: 2,
        cores: 2,
        env: { SKEIN_TEST_MARK: MARK },
        sharedDirectory: work,
        pollInterval: 1,
        ...options,
      },
      { env: {}, userConfigDir: "/nonexistent" },
    );
    clusters.push(cluster);
    return cluster;
  };
  /** Worker supervisors and worker processes of this file (they run on the ssh host, which is this one). */
  const workerProcesses = () => processesWithMark(MARK).filter((pid) => !commandLineOf(pid).startsWith("ssh ") && /@skein\/worker\/dist\/|packages\/worker\/dist\//.test(commandLineOf(pid)));
  /** This process's ssh clients that carry a job (its session runs the remote script). */
  const jobSessions = () => processesWithMark(MARK).filter((pid) => parentOf(pid) === process.pid && commandLineOf(pid).startsWith("ssh ") && commandLineOf(pid).includes("exec /bin/sh -c"));

  afterEach(async () => {
    for (const cluster of clusters.splice(0)) await cluster.close().catch(() => undefined);
    await until(() => `no process of this test left (still: ${processesWithMark(MARK).map((p) => `${p}: ${commandLineOf(p)}`).join(" | ")})`, () => processesWithMark(MARK).length === 0);
  });

  it("runs the reference scenario on two jobs, with the secret on no command line, and leaves nothing behind", async () => {
    const cluster = await start();
    await cluster.scale(4);
    expect(cluster.jobs).toHaveLength(2);
    await cluster.waitForWorkers(4, { timeout: 60_000 });
    expect(new Set(cluster.workers.map((w) => w.jobId))).toEqual(new Set(cluster.jobs.map((j) => j.id)));

    const backend = cluster.backend as SshBackend;
    const controlDirectory = backend.controlDirectory as string;
    expect(statSync(controlDirectory).mode & 0o777).toBe(0o700);
    // One multiplexed connection for the one host, carrying both jobs.
    expect(processesWithCommandLine(`${controlDirectory}/`).filter((pid) => commandLineOf(pid).includes("[mux]"))).toHaveLength(1);
    expect(jobSessions()).toHaveLength(2);

    const client = await Client.connect(cluster);
    const A = client.map(double, Array(48).fill(1));
    const B = client.map(neg, A);
    const total = client.submit(sum, B);
    expect(await total.result()).toBe(-96);

    for (const entry of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
      expect(commandLineOf(Number(entry))).not.toContain(cluster.secret);
    }
    const supervisors = workerProcesses().filter((pid) => commandLineOf(pid).includes("--watch-stdin"));
    expect(supervisors).toHaveLength(2);
    // It arrived on stdin and went into the environment.
    for (const pid of supervisors) expect(environmentOf(pid).SKEIN_SECRET).toBe(cluster.secret);

    await client.close();
    await cluster.close();
    expect(cluster.jobs).toEqual([]);
    await until(() => `no worker left on the host (still: ${workerProcesses().join(", ")})`, () => workerProcesses().length === 0);
    expect(existsSync(controlDirectory)).toBe(false);
    expect(processesWithCommandLine(controlDirectory)).toEqual([]);
  });

  it("with tls: true, sends the certificate over the session (as the secret) and computes over wss://", async () => {
    const cluster = await start({ tls: true });
    await cluster.scale(2);
    await cluster.waitForWorkers(2, { timeout: 60_000 });
    expect(cluster.schedulerAddress).toMatch(/^wss:\/\//);
    for (const worker of cluster.workers) expect(worker.address).toMatch(/^wss:\/\//);
    const client = await Client.connect(cluster);
    const A = client.map(double, Array(48).fill(1));
    expect(await client.submit(sum, client.map(neg, A)).result()).toBe(-96);
    const supervisor = workerProcesses().find((pid) => commandLineOf(pid).includes("--watch-stdin")) as number;
    const env = environmentOf(supervisor);
    expect(env.SKEIN_TLS_FILE).toBeUndefined();
    expect(Buffer.from(env.SKEIN_TLS_PEM ?? "", "base64").toString()).toContain("-----BEGIN PRIVATE KEY-----");
    await client.close();
    await cluster.close();
  });

  it("rejects scale() with ssh's error when nobody listens on the host's port", async () => {
    const cluster = await start({ hosts: ["root@127.0.0.1:2999"] });
    const error = await cluster.scale(2).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: SKEIN_ERROR_CODES.COMMAND_FAILED, component: "ssh", exitCode: 255, host: "root@127.0.0.1:2999" });
    expect((error as Error).message).toMatch(/ssh to root@127\.0\.0\.1:2999 failed with exit code 255: ssh: connect to host 127\.0\.0\.1 port 2999: Connection refused/);
    expect((error as Error).message).toMatch(/command: ssh .*-p 2999 -l root .*-- 127\.0\.0\.1 true/);
    expect(cluster.jobs).toEqual([]);
  });

  it("rejects scale() when the host key is unknown: never a prompt", async () => {
    const emptyKnownHosts = join(work, "known_hosts_empty");
    writeFileSync(emptyKnownHosts, "");
    const cluster = await start({ knownHostsFile: emptyKnownHosts });
    const error = await cluster.scale(2).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: SKEIN_ERROR_CODES.COMMAND_FAILED, exitCode: 255 });
    expect((error as Error).message).toMatch(/Host key verification failed/);
  });

  it("rejects scale() when the server refuses the key", async () => {
    const strangerKey = join(work, "id_stranger");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", strangerKey]);
    const cluster = await start({ identityFile: strangerKey });
    const error = await cluster.scale(2).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: SKEIN_ERROR_CODES.COMMAND_FAILED, exitCode: 255 });
    expect((error as Error).message).toMatch(/Permission denied \(publickey/);
  });

  it("ends a job's remote workers when its local ssh client is killed (kill -9)", async () => {
    const cluster = await start();
    await cluster.scale(2);
    await cluster.waitForWorkers(2, { timeout: 60_000 });
    const [session] = jobSessions();
    expect(session).toBeDefined();
    expect(workerProcesses().length).toBeGreaterThan(0);
    const jobIds = cluster.jobs.map((j) => j.id);

    process.kill(session as number, "SIGKILL");
    // The master closes the session's stdin on the host; the supervisor (--watch-stdin) stops its workers.
    await until(() => `the remote workers to exit (still: ${workerProcesses().map(commandLineOf).join(" | ")})`, () => workerProcesses().length === 0);
    // `cluster.jobs` lists live jobs only: the job leaves it once the backend reports it ended.
    await until(() => `the cluster to see the job gone (jobs: ${JSON.stringify(cluster.jobs.map((j) => j.state))})`, () => cluster.workers.length === 0 && cluster.jobs.length === 0);
    const states = await cluster.backend.status(jobIds);
    expect(states.get(jobIds[0]!)).toMatchObject({ state: "exited", exitCode: null, reason: "the local ssh session was killed by SIGKILL" });
  });

  it("cancelSync (from an exit handler) ends the remote workers and the control master", async () => {
    const cluster = await start();
    await cluster.scale(2);
    await cluster.waitForWorkers(2, { timeout: 60_000 });
    const backend = cluster.backend as SshBackend;
    const controlDirectory = backend.controlDirectory as string;

    backend.cancelSync?.(cluster.jobs.map((j) => j.id));
    expect(existsSync(controlDirectory)).toBe(false);
    await until(() => `the remote workers to exit (still: ${workerProcesses().map(commandLineOf).join(" | ")})`, () => workerProcesses().length === 0);
    await until("the control master to exit", () => processesWithCommandLine(controlDirectory).length === 0);
  });

  it("reports a job that fails before its workers connect with its exit code and output", async () => {
    const cluster = await start({ remoteNode: "/nonexistent/node" });
    await cluster.scale(2);
    const error = await cluster.waitForWorkers(2, { timeout: 30_000 }).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: SKEIN_ERROR_CODES.JOB_FAILED_BEFORE_CONNECT });
    expect((error as Error).message).toMatch(/job ssh-\d+@127\.0\.0\.1 of cluster skein \(ssh\) ended before any of its workers connected \(exit code 127\)/);
    expect((error as Error).message).toMatch(/\/nonexistent\/node: not found/);
  });
});
