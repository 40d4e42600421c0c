/** Secure by default: nothing on the network runs code, or serves data, without the cluster's secret. */
import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { Client, temporaryCertificate, type Cluster } from "@skein/core";
import { PROTOCOL_VERSION, decodeFrame, encodeFrame } from "@skein/serialization";
import { connectDataLink, readSecretFile } from "@skein/transport";
import { commandLineOf, expectNoProcessesLeft, processesWithMark, runNode, startLocal, TEST_MARK, until, type LocalSetup } from "./helpers.js";

let setup: LocalSetup;
let cluster: Cluster;

beforeAll(async () => {
  setup = await startLocal(2);
  cluster = setup.cluster;
});
afterAll(async () => {
  await setup?.close();
  await expectNoProcessesLeft();
});

/** Open a raw WebSocket, send one frame, and report how the server answered. */
function rawExchange(address: string, frame: Uint8Array | string): Promise<{ messages: unknown[]; code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(address);
    const messages: unknown[] = [];
    ws.on("open", () => ws.send(frame));
    ws.on("message", (data) => messages.push(...decodeFrame(data as Buffer)));
    ws.on("close", (code, reason) => resolve({ messages, code, reason: reason.toString() }));
    ws.on("error", reject);
  });
}

const hello = (secret: string, role = "client") => encodeFrame([{ op: "hello", role, protocol: PROTOCOL_VERSION, secret, name: "intruder" }]);

describe("the cluster secret", () => {
  it("is random per cluster and long", () => {
    expect(cluster.secret.length).toBeGreaterThanOrEqual(40);
  });

  it("refuses a client with the wrong secret, saying why", async () => {
    await expect(Client.connect(cluster.schedulerAddress, { secret: "guess", timeout: 2000 })).rejects.toMatchObject({
      code: "SKEIN_ERR_AUTH_FAILED",
      message: expect.stringContaining("wrong cluster secret"),
    });
  });

  it("is checked for a client in the scheduler's own process too, which connects without a socket", async () => {
    expect(() => cluster.scheduler.connectClient({ secret: "guess", name: "intruder" })).toThrow(
      expect.objectContaining({ code: "SKEIN_ERR_AUTH_FAILED", message: expect.stringContaining("wrong cluster secret") }),
    );
    const clients = cluster.scheduler.state.clients.size;
    const client = await Client.connect(cluster);
    try {
      expect(cluster.scheduler.state.clients.size).toBe(clients + 1);
      expect(await client.submit((x: number) => x + 1, 41).result()).toBe(42);
    } finally {
      await client.close();
    }
    await until(() => cluster.scheduler.state.clients.size === clients, { what: "the in-process client to be gone from the scheduler" });
  });

  it("closes a raw connection whose hello is wrong before reading anything else", async () => {
    const task = { op: "update-graph", functions: [], tasks: [], wants: [], stimulusId: "x" };
    const result = await rawExchange(cluster.schedulerAddress, encodeFrame([{ op: "hello", role: "client", protocol: PROTOCOL_VERSION, secret: "nope", name: "x" }, task]));
    expect(result.code).toBe(4001);
    expect(result.reason).toContain("wrong cluster secret");
    expect(result.messages).toEqual([{ op: "error", code: "SKEIN_ERR_AUTH_FAILED", message: expect.stringContaining("wrong cluster secret") }]);
  });

  it("refuses a connection that starts with anything but hello", async () => {
    const result = await rawExchange(cluster.schedulerAddress, encodeFrame([{ op: "identity", requestId: 1 }]));
    expect(result.code).toBe(4002);
    expect(result.reason).toMatch(/first message must be "hello"/);
  });

  it("refuses garbage and text frames", async () => {
    expect((await rawExchange(cluster.schedulerAddress, new Uint8Array([0xff, 0xfe, 0x00]))).code).toBe(4002);
    expect((await rawExchange(cluster.schedulerAddress, "hello")).reason).toMatch(/expected a binary CBOR frame/);
  });

  it("guards the workers' data servers too", async () => {
    const worker = [...cluster.scheduler.state.workers.values()][0]!;
    const result = await rawExchange(worker.address, hello("nope", "peer"));
    expect(result.code).toBe(4001);
  });

  it("guards the workers' data links (plain TCP, same port): the wrong secret gets nothing", async () => {
    const worker = [...cluster.scheduler.state.workers.values()][0]!;
    await expect(connectDataLink(worker.address, { role: "peer", secret: "nope", name: "intruder", timeoutMs: 3000, label: "intruder" })).rejects.toMatchObject({
      code: "SKEIN_ERR_AUTH_FAILED",
      message: expect.stringContaining("wrong cluster secret"),
    });
    const link = await connectDataLink(worker.address, { role: "peer", secret: cluster.secret, name: "insider", timeoutMs: 3000, label: "insider" });
    link.close();
  });

  it("never appears on a command line", () => {
    const pids = processesWithMark();
    expect(pids.length).toBeGreaterThanOrEqual(4);
    for (const pid of pids) expect(commandLineOf(pid)).not.toContain(cluster.secret);
  });

  it("keeps the scheduler and the workers on loopback by default", () => {
    expect(cluster.schedulerAddress).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    for (const ws of cluster.scheduler.state.workers.values()) expect(ws.address).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
  });
});

describe("workers with the wrong secret", () => {
  it("exit with the scheduler's reason", async () => {
    const bin = fileURLToPath(new URL("../../worker/dist/bin.js", import.meta.url));
    const result = await runNode([bin, cluster.schedulerAddress, "--death-timeout", "5"], { env: { SKEIN_SECRET: "wrong", SKEIN_TEST_MARK: TEST_MARK } });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("refused us: wrong cluster secret");
  });
});

describe("tls: true", () => {
  it("encrypts every connection with the cluster's own certificate, and refuses peers without it", async () => {
    const own = await startLocal(2, { tls: true });
    try {
      const { cluster, client } = own;
      expect(cluster.schedulerAddress).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/);
      for (const ws of cluster.scheduler.state.workers.values()) expect(ws.address).toMatch(/^wss:\/\//);
      // Inputs move worker to worker, and results over 1 KiB come from the workers to the client: all over TLS.
      const A = client.map((x: number) => Array.from({ length: 500 }, () => x), [1, 2, 3, 4]);
      const B = client.map((xs: number[]) => xs.map((x) => -x), A);
      expect(await client.submit((xss: number[][]) => xss.flat().reduce((a, b) => a + b, 0), B).result()).toBe(-5000);
      expect((await client.gather(B)).map((xs) => xs.length)).toEqual([500, 500, 500, 500]);

      // The certificate's key is in a private file that the workers were pointed at.
      const tlsFile = readFileSync(`/proc/${[...cluster.scheduler.state.workers.values()][0]!.pid}/environ`, "latin1")
        .split("\0")
        .find((e) => e.startsWith("SKEIN_TLS_FILE="))
        ?.slice("SKEIN_TLS_FILE=".length);
      expect(tlsFile).toBeDefined();
      expect(statSync(tlsFile as string).mode & 0o777).toBe(0o600);

      // The right secret is not enough without the certificate: another certificate is refused.
      const { cert, key } = await temporaryCertificate("intruder");
      await expect(Client.connect(cluster.schedulerAddress, { secret: cluster.secret, tls: { cert, key, ca: cert, checkServerName: false }, timeout: 10_000 })).rejects.toMatchObject({
        code: "SKEIN_ERR_AUTH_FAILED",
        message: expect.stringMatching(/TLS handshake with wss:.* failed .*not the one that cluster uses/),
      });
      await expect(Client.connect(cluster.schedulerAddress, { secret: cluster.secret, timeout: 10_000 })).rejects.toThrow(/uses TLS: give the cluster's certificate \(SKEIN_TLS_FILE, or the tls option\)/);
      // Workers offer no plain-TCP data links: every byte of data stays on TLS.
      const worker = [...cluster.scheduler.state.workers.values()][0]!;
      await expect(connectDataLink(worker.address.replace("wss://", "ws://"), { role: "peer", secret: cluster.secret, name: "x", timeoutMs: 3000, label: "x" })).rejects.toMatchObject({ code: "SKEIN_ERR_CONNECT_FAILED" });
      // And a plain WebSocket gets nowhere.
      await expect(Client.connect(cluster.schedulerAddress.replace("wss://", "ws://"), { secret: cluster.secret, timeout: 10_000 })).rejects.toThrow(/if the scheduler uses TLS, its address starts with wss:/);

      await own.close();
      expect(existsSync(tlsFile as string)).toBe(false);
    } finally {
      await own.close();
    }
  });
});

describe("workers with --allowed-modules", () => {
  it("run functions by reference from the allowed roots and refuse everything else, naming the task", async () => {
    const allowed = mkdtempSync(join(tmpdir(), "skein-allowed-"));
    const elsewhere = mkdtempSync(join(tmpdir(), "skein-elsewhere-"));
    writeFileSync(join(allowed, "lab.mjs"), "export function triple(x) { return 3 * x; }\n");
    writeFileSync(join(elsewhere, "rogue.mjs"), "export function triple(x) { return -1; }\n");
    const own = await startLocal(0);
    const bin = fileURLToPath(new URL("../../worker/dist/bin.js", import.meta.url));
    const worker = spawn(process.execPath, [bin, own.cluster.schedulerAddress, "--name", "strict", "--allowed-modules", `${allowed},@skein/nothing`], {
      env: { ...process.env, SKEIN_SECRET: own.cluster.secret },
      stdio: "ignore",
    });
    try {
      await own.cluster.waitForWorkers(1, { timeout: 30_000 });
      const { client } = own;
      const good = client.submit({ module: pathToFileURL(join(allowed, "lab.mjs")).href, export: "triple" }, 3);
      expect(await good.result()).toBe(9);

      const byValue = client.with({ key: "by-value-1" }).submit((x: number) => x + 1, 1);
      const valueError = await byValue.result().catch((error: unknown) => error);
      expect(valueError).toMatchObject({ remoteName: "ModuleNotAllowedError", key: "by-value-1" });
      expect(String((valueError as Error).message)).toMatch(/task by-value-1 failed: .*runs only functions by reference/);

      const rogue = client.submit({ module: pathToFileURL(join(elsewhere, "rogue.mjs")).href, export: "triple" }, 3);
      await expect(rogue.result()).rejects.toThrow(/outside the allowed module roots/);
      const builtin = client.submit({ module: "node:child_process", export: "execSync" }, "id");
      await expect(builtin.result()).rejects.toThrow(/not in the allowed modules/);
    } finally {
      await own.close();
      worker.kill("SIGTERM");
    }
  });

  it("come from the cluster option allowedModules too", async () => {
    const allowed = mkdtempSync(join(tmpdir(), "skein-allowed-"));
    writeFileSync(join(allowed, "lab.mjs"), "export function square(x) { return x * x; }\n");
    const own = await startLocal(1, { allowedModules: [allowed] });
    try {
      expect(await own.client.submit({ module: pathToFileURL(join(allowed, "lab.mjs")).href, export: "square" }, 7).result()).toBe(49);
      await expect(own.client.submit((x: number) => x, 1).result()).rejects.toThrow(/ModuleNotAllowedError: this worker runs only functions by reference/);
    } finally {
      await own.close();
    }
  });

  it("are refused with relative directories", async () => {
    const bin = fileURLToPath(new URL("../../worker/dist/bin.js", import.meta.url));
    const result = await runNode([bin, "ws://127.0.0.1:1", "--allowed-modules", "./lab"], { env: { SKEIN_SECRET: "x" } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--allowed-modules entries must be absolute directories or package names, got "./lab"');
  });
});

describe("secret files", () => {
  const dir = mkdtempSync(join(tmpdir(), "skein-secret-"));

  it("are refused when other users can read them", () => {
    const file = join(dir, "open.secret");
    writeFileSync(file, "abc\n");
    chmodSync(file, 0o644);
    expect(() => readSecretFile(file)).toThrow(/can be read by other users \(mode 644\); run: chmod 600/);
  });

  it("are read when private", () => {
    const file = join(dir, "private.secret");
    writeFileSync(file, "s3cret\n", { mode: 0o600 });
    expect(readSecretFile(file)).toBe("s3cret");
  });
});
