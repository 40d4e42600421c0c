/** `skein scheduler` and `skein worker` as separate processes, and a client that connects by address. */
import { spawn } from "node:child_process";
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { Client, createCluster } from "@skein/core";
import { expectNoProcessesLeft, runNode, TEST_MARK, until } from "./helpers.js";

const cli = fileURLToPath(new URL("../../cli/dist/cli.js", import.meta.url));
const env = { ...process.env, SKEIN_TEST_MARK: TEST_MARK };

describe("skein scheduler + skein worker", () => {
  afterEach(async () => {
    await expectNoProcessesLeft();
  });

  it("run a computation for a client that connects by address, and stop cleanly on SIGTERM", async () => {
    const secretFile = join(mkdtempSync(join(tmpdir(), "skein-cli-")), "cluster.secret");
    const scheduler = spawn(process.execPath, [cli, "scheduler", "--port", "0", "--secret-file", secretFile], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    scheduler.stdout.on("data", (c: Buffer) => (out += c.toString()));
    const address = await until(() => /listening on (ws:\/\/[\d.]+:\d+)/.exec(out)?.[1], { what: "the scheduler address" });
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);
    // The banner's lines are separate writes: they may arrive in separate chunks.
    await until(() => out.includes(`SKEIN_SECRET_FILE=${secretFile}`), { what: () => `the secret file named in the banner (${out})` });

    const worker = spawn(process.execPath, [cli, "worker", address, "--nworkers", "2", "--name", "cli"], { env: { ...env, SKEIN_SECRET_FILE: secretFile }, stdio: "ignore" });
    const workerExit = new Promise<number | null>((resolve) => worker.on("exit", (code) => resolve(code)));
    const client = await Client.connect(address, { secret: (await import("@skein/transport")).readSecretFile(secretFile) });
    try {
      await client.waitForWorkers(2, { timeout: 20_000 });
      expect([...client.workers].sort()).toEqual(["cli-0", "cli-1"]);
      const total = client.submit((xs: number[]) => xs.reduce((a, b) => a + b, 0), client.map((x: number) => x * 2, [1, 2, 3]));
      expect(await total.result()).toBe(12);
    } finally {
      await client.close();
    }
    scheduler.kill("SIGTERM");
    // The scheduler tells its workers to leave; their supervisor then exits 0.
    expect(await workerExit).toBe(0);
  });

  it("with --tls-file: a temporary certificate is made there, and workers and clients that have it compute over wss://", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skein-cli-tls-"));
    const secretFile = join(dir, "cluster.secret");
    const tlsFile = join(dir, "cluster.pem");
    const scheduler = spawn(process.execPath, [cli, "scheduler", "--port", "0", "--secret-file", secretFile, "--tls-file", tlsFile, "--no-dashboard"], { env, stdio: ["ignore", "pipe", "pipe"] });
    try {
      let out = "";
      scheduler.stdout.on("data", (c: Buffer) => (out += c.toString()));
      const address = await until(() => /listening on (wss:\/\/[\d.]+:\d+)/.exec(out)?.[1], { what: `the wss:// address (${out})` });
      expect(statSync(tlsFile).mode & 0o777).toBe(0o600);
      await until(() => out.includes(`SKEIN_TLS_FILE=${tlsFile}`), { what: () => `the TLS file named in the banner (${out})` });
      const worker = spawn(process.execPath, [cli, "worker", address, "--name", "tls"], { env: { ...env, SKEIN_SECRET_FILE: secretFile, SKEIN_TLS_FILE: tlsFile }, stdio: "ignore" });
      const workerExit = new Promise<number | null>((resolve) => worker.on("exit", (code) => resolve(code)));
      const { readSecretFile, readTlsFile } = await import("@skein/transport");
      const client = await Client.connect(address, { secret: readSecretFile(secretFile), tls: readTlsFile(tlsFile) });
      try {
        await client.waitForWorkers(1, { timeout: 20_000 });
        expect(await client.submit((x: number) => x * 3, 14).result()).toBe(42);
      } finally {
        await client.close();
      }
      // A worker without the certificate is told why at once, not after its death timeout.
      const refused = await runNode([cli, "worker", address, "--death-timeout", "30"], { env: { ...env, SKEIN_SECRET_FILE: secretFile }, timeout: 20_000 });
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain("uses TLS: give the cluster's certificate");
      scheduler.kill("SIGTERM");
      expect(await workerExit).toBe(0);
    } finally {
      scheduler.kill("SIGKILL");
    }
  });

  it("skein dashboard prints the link of a running scheduler, from its address or its scheduler file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skein-cli-dash-"));
    const secretFile = join(dir, "cluster.secret");
    const schedulerFile = join(dir, "scheduler.json");
    const scheduler = spawn(process.execPath, [cli, "scheduler", "--port", "0", "--dashboard-port", "0", "--secret-file", secretFile, "--scheduler-file", schedulerFile], { env, stdio: ["ignore", "pipe", "pipe"] });
    try {
      let out = "";
      scheduler.stdout.on("data", (c: Buffer) => (out += c.toString()));
      const address = await until(() => /listening on (ws:\/\/[\d.]+:\d+)/.exec(out)?.[1], { what: "the scheduler address" });
      const link = await until(() => /Dashboard: (http:\S+)/.exec(out)?.[1], { what: `the dashboard line (${out})` });
      expect(link).toMatch(/\?token=/);

      const byAddress = await runNode([cli, "dashboard", address], { env: { ...env, SKEIN_SECRET_FILE: secretFile } });
      expect(byAddress).toMatchObject({ code: 0, stdout: `${link}\n`, stderr: "" });
      const byFile = await runNode([cli, "dashboard", "--scheduler-file", schedulerFile]);
      expect(byFile).toMatchObject({ code: 0, stdout: `${link}\n` });
      expect((await fetch(link)).status).toBe(200);

      const nothing = await runNode([cli, "dashboard"]);
      expect(nothing.code).toBe(2);
      expect(nothing.stderr).toContain("which scheduler?");
      const wrongSecret = await runNode([cli, "dashboard", address], { env: { ...env, SKEIN_SECRET: "wrong", SKEIN_SECRET_FILE: "" } });
      expect(wrongSecret.code).toBe(1);
      expect(wrongSecret.stderr).toContain("wrong cluster secret");
      const noFile = await runNode([cli, "dashboard", "--scheduler-file", join(dir, "none.json")]);
      expect(noFile.code).toBe(1);
      expect(noFile.stderr).toContain("no scheduler file at");
    } finally {
      scheduler.kill("SIGTERM");
      await new Promise((resolve) => scheduler.once("exit", resolve));
    }
  });

  it("explain what is missing: no secret, bad port, unknown command", async () => {
    const noSecret = await runNode([cli, "worker", "ws://127.0.0.1:1"], { env: { SKEIN_SECRET: "", SKEIN_SECRET_FILE: "" } });
    expect(noSecret.code).toBe(2);
    expect(noSecret.stderr).toContain("no cluster secret: set SKEIN_SECRET, or SKEIN_SECRET_FILE");
    const badPort = await runNode([cli, "scheduler", "--port", "99999"]);
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toContain("--port must be a port number");
    const unknown = await runNode([cli, "frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    const badWorkers = await runNode([cli, "worker", "ws://127.0.0.1:1", "--nworkers", "0"], { env: { SKEIN_SECRET: "x" } });
    expect(badWorkers.stderr).toContain("--nworkers must be a whole number of at least 1");
  });

  it("job-script prints what a running cluster submits (walltime lifetime, nodes, secret file)", async () => {
    const shared = mkdtempSync(join(tmpdir(), "skein-preview-"));
    const options = { name: "preview", processes: 2, cores: 4, walltime: "01:00:00", resourceSpec: "nodes=2:ppn=4", sharedDirectory: shared };
    const printed = await runNode([cli, "job-script"], {
      env: { SKEIN_BACKEND: "pbs", SKEIN_NAME: "preview", SKEIN_PROCESSES: "2", SKEIN_CORES: "4", SKEIN_WALLTIME: "01:00:00", SKEIN_RESOURCE_SPEC: "nodes=2:ppn=4", SKEIN_SHARED_DIRECTORY: shared },
    });
    expect(printed.stderr).toBe("");
    // Starts a scheduler but submits nothing: no batch system is needed.
    const cluster = await createCluster({ backend: "pbs", ...options });
    try {
      const submitted = cluster
        .jobScript()
        .replace(cluster.schedulerAddress, "ws://<scheduler-host>:<port>")
        .replace(/preview-[0-9a-f]{8}\/secret/, "preview-<id>/secret");
      // The placeholders' < and > make the preview quote two words the real script needs not quote.
      const unquoted = (script: string) => script.replaceAll("'", "").trimEnd();
      expect(unquoted(printed.stdout)).toBe(unquoted(submitted));
      expect(printed.stdout).toContain(" --lifetime ");
      expect(printed.stdout).toContain(`SKEIN_SECRET_FILE=${shared}/clusters/preview-<id>/secret`);
    } finally {
      await cluster.close();
    }
  });

  it("prints the job script and the configuration in use", async () => {
    const script = await runNode([cli, "job-script"], { env: { SKEIN_NAME: "demo", SKEIN_PROCESSES: "2", SKEIN_CORES: "4" } });
    expect(script.code).toBe(0);
    expect(script.stdout).toMatch(/exec .*node .*bin\.js 'ws:\/\/<scheduler-host>:<port>' --nworkers 2 --nthreads 2 --name demo-0/);
    expect(script.stdout).not.toContain("SKEIN_SECRET=");
    const info = await runNode([cli, "info"], { env: { SKEIN_CORES: "4" } });
    expect(info.stdout).toContain("env   SKEIN_CORES");
    expect(info.stdout).toMatch(/cores\s+4\s+environment variable SKEIN_CORES/);
    const bad = await runNode([cli, "info"], { env: { SKEIN_WALTIME: "01:00:00" } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown option "waltime" in environment variable SKEIN_WALTIME (did you mean "walltime"?)');
  });
});
