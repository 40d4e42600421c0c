/**
 * Data links on real sockets: results of every size arrive intact, and every way a link can go
 * wrong (wrong secret either way, garbage, a stream cut short, a peer gone mid-transfer) ends in a
 * clean error for the asker, never a hang, and leaves no socket open.
 */
import { randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MIN_ATTACHMENT_BYTES, encodeFrameParts, type Message } from "@skein/serialization";
import { afterEach, describe, expect, it } from "vitest";
import { DATA_LINK_UPGRADE, dialerProof, listenerProof, newNonce } from "../src/data-auth.js";
import { encodeFrameHead } from "../src/data-framing.js";
import { CLOSE_CODES, PeerPool, connectDataLink, formatTlsFile, listen, readTlsFile, type Listener, type MessageLink } from "../src/index.js";

const secret = "s3cret";
const MiB = 1024 * 1024;

let servers: { close(): unknown }[] = [];
let pools: PeerPool[] = [];
afterEach(async () => {
  for (const pool of pools) pool.close();
  for (const server of servers) await server.close();
  pools = [];
  servers = [];
  await noSocketsLeft();
});

/** Both ends live in this process: once everything is closed, no TCP socket may remain. */
async function noSocketsLeft(): Promise<void> {
  const deadline = Date.now() + 5000;
  let open = 0;
  while (Date.now() < deadline) {
    open = process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap").length;
    if (open === 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(open, "TCP sockets still open after the test closed everything").toBe(0);
}

function pattern(n: number, seed: number): Uint8Array {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = (i * 31 + seed) & 0xff;
  return a;
}

const same = (a: Uint8Array, b: Uint8Array) => a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;

/** A worker's data server in miniature: answers get-data from `values`, over data links and WebSockets. */
async function dataServer(
  values: Record<string, Uint8Array>,
  options: { tls?: ReturnType<typeof readTlsFile>; onLink?: (link: MessageLink) => void; afterReply?: () => void } = {},
): Promise<Listener> {
  const serve = (link: MessageLink) => {
    options.onLink?.(link);
    link.onMessages((messages) => {
      for (const m of messages) {
        if (m.op !== "get-data") continue;
        const data: Record<string, Uint8Array> = {};
        for (const key of m.keys) if (values[key]) data[key] = values[key];
        link.send({ op: "data", requestId: m.requestId, data, missing: m.keys.filter((k) => !values[k]) });
        options.afterReply?.();
      }
    });
  };
  const server = await listen({ host: "127.0.0.1", port: 0, secret, roles: ["peer", "client"], label: "test", tls: options.tls, onConnection: ({ connection }) => serve(connection), onDataLink: ({ link }) => serve(link) });
  servers.push(server);
  return server;
}

function pool(options: { secret?: string; sharedMemory?: boolean; tls?: ReturnType<typeof readTlsFile> } = {}): PeerPool {
  const p = new PeerPool(options.secret ?? secret, "asker", "peer", 5000, options.tls, { sharedMemory: options.sharedMemory ?? true });
  pools.push(p);
  return p;
}

/** Read exactly `n` bytes from a socket in flowing mode (what arrives after them is returned too). */
function readBytes(socket: net.Socket, n: number, until?: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      const enough = until ? got.indexOf(until) >= 0 : got.byteLength >= n;
      if (!enough) return;
      socket.off("data", onData);
      resolve(got);
    };
    socket.on("data", onData);
    socket.once("error", reject);
  });
}

/**
 * A listener that speaks the data-link handshake itself, then does `then` with the socket:
 * for what a real Skein worker never sends (garbage, a stream cut short) or cannot send (a proof
 * without the secret).
 */
async function fakeListener(then: (socket: net.Socket) => void, { knowsSecret = true } = {}): Promise<string> {
  const server = net.createServer(async (socket) => {
    socket.on("error", () => socket.destroy());
    await readBytes(socket, 0, "\r\n\r\n");
    const listenerNonce = newNonce();
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${DATA_LINK_UPGRADE}\r\nSkein-Challenge: ${listenerNonce.toString("base64url")}\r\n\r\n`);
    const answer = await readBytes(socket, 64);
    const proof = knowsSecret ? listenerProof(secret, listenerNonce, answer.subarray(0, 32)) : randomBytes(32);
    socket.write(Buffer.concat([Uint8Array.of(0), proof]));
    then(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push({ close: () => new Promise((resolve) => server.close(resolve)) });
  return `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

/** The dialler's side of the handshake by hand, on a raw socket; resolves once the listener has answered. */
async function rawDialler(address: string, proofSecret: string): Promise<{ socket: net.Socket; answer: Buffer }> {
  const url = new URL(address);
  const socket = net.connect(Number(url.port), url.hostname);
  socket.write(`GET / HTTP/1.1\r\nHost: ${url.host}\r\nConnection: Upgrade\r\nUpgrade: ${DATA_LINK_UPGRADE}\r\nSkein-Role: peer\r\nSkein-Name: raw\r\n\r\n`);
  const response = await readBytes(socket, 0, "\r\n\r\n");
  const challenge = Buffer.from(/Skein-Challenge: (\S+)/.exec(response.toString("latin1"))?.[1] ?? "", "base64url");
  const dialerNonce = newNonce();
  socket.write(Buffer.concat([dialerNonce, dialerProof(proofSecret, challenge, dialerNonce)]));
  return { socket, answer: await readBytes(socket, 1) };
}

/** One frame of messages as a data link writes it. */
function frameBytes(messages: Message[]): Buffer {
  const { frame, attachments } = encodeFrameParts(messages);
  return Buffer.concat([encodeFrameHead(frame.byteLength, attachments.map((a) => a.byteLength)), frame, ...attachments]);
}

describe("data links", () => {
  it("carry results of every size intact, large ones in shared memory of their own", async () => {
    const sizes = { empty: 0, small: 10, below: MIN_ATTACHMENT_BYTES - 1, at: MIN_ATTACHMENT_BYTES, big: 64 * MiB };
    const values = Object.fromEntries(Object.entries(sizes).map(([key, n], i) => [key, pattern(n, i)]));
    const server = await dataServer(values);
    const peers = pool();
    for (const key of Object.keys(sizes)) {
      const { data, missing } = await peers.fetch(server.address, [key]);
      expect(missing).toEqual([]);
      const bytes = data[key] as Uint8Array;
      expect(same(bytes, values[key] as Uint8Array), key).toBe(true);
      if (bytes.byteLength >= MIN_ATTACHMENT_BYTES) {
        expect(bytes.buffer).toBeInstanceOf(SharedArrayBuffer);
        expect(bytes.byteOffset).toBe(0);
        expect(bytes.buffer.byteLength).toBe(bytes.byteLength);
      }
    }
    expect(await peers.fetch(server.address, ["nothing"])).toEqual({ data: {}, missing: ["nothing"] });
  });

  it("answer concurrent requests, from one asker and from several, each with its own data", async () => {
    const values = Object.fromEntries(Array.from({ length: 24 }, (_, i) => [`k${i}`, pattern(i % 3 === 0 ? 3 * MiB + i : 1000 * i, i)]));
    const server = await dataServer(values);
    const askers = [pool(), pool(), pool({ sharedMemory: false })];
    const fetches = askers.flatMap((peers) => Object.keys(values).map(async (key) => ({ key, result: await peers.fetch(server.address, [key]) })));
    for (const { key, result } of await Promise.all(fetches)) expect(same(result.data[key] as Uint8Array, values[key] as Uint8Array), key).toBe(true);
    const all = await askers[0]!.fetch(server.address, Object.keys(values));
    expect(Object.keys(all.data).sort()).toEqual(Object.keys(values).sort());
  });

  it("are refused to an asker with the wrong secret, saying why, and serve it nothing", async () => {
    let links = 0;
    const server = await dataServer({ k: pattern(10, 1) }, { onLink: () => links++ });
    await expect(connectDataLink(server.address, { role: "peer", secret: "guess", name: "x", timeoutMs: 5000, label: "test" })).rejects.toMatchObject({
      code: "SKEIN_ERR_AUTH_FAILED",
      message: expect.stringContaining("wrong cluster secret"),
    });
    await expect(pool({ secret: "guess" }).fetch(server.address, ["k"])).rejects.toMatchObject({ code: "SKEIN_ERR_AUTH_FAILED" });
    // A request sent where the proof should be is not even read.
    const { socket, answer } = await rawDialler(server.address, "guess");
    expect(answer[0]).toBe(1);
    socket.destroy();
    expect(links).toBe(0);
  });

  it("take no data from a listener that cannot prove it knows the secret", async () => {
    let sent = false;
    const address = await fakeListener((socket) => {
      sent = true;
      socket.write(frameBytes([{ op: "data", requestId: 1, data: { k: pattern(10, 1) }, missing: [] }]));
    }, { knowsSecret: false });
    await expect(pool().fetch(address, ["k"])).rejects.toMatchObject({ code: "SKEIN_ERR_AUTH_FAILED", message: expect.stringContaining("did not prove that it knows the cluster secret") });
    expect(sent).toBe(true);
  });

  it("are refused by a server that offers none (a scheduler), with its answer", async () => {
    const scheduler = await listen({ host: "127.0.0.1", port: 0, secret, roles: ["client"], label: "scheduler", onConnection: () => {} });
    servers.push(scheduler);
    await expect(connectDataLink(scheduler.address, { role: "peer", secret, name: "x", timeoutMs: 5000, label: "test" })).rejects.toMatchObject({
      code: "SKEIN_ERR_CONNECT_FAILED",
      message: expect.stringContaining("refused a data link: HTTP/1.1 400 Bad Request"),
    });
  });

  it("give up on a listener that never answers, within the asker's timeout", async () => {
    const silent = net.createServer(() => {});
    const sockets = new Set<net.Socket>();
    silent.on("connection", (socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    servers.push({ close: () => new Promise((resolve) => (sockets.forEach((s) => s.destroy()), silent.close(resolve))) });
    const address = `ws://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    await expect(connectDataLink(address, { role: "peer", secret, name: "x", timeoutMs: 300, label: "test" })).rejects.toMatchObject({
      code: "SKEIN_ERR_CONNECT_FAILED",
      message: expect.stringContaining("no answer within 300 ms"),
    });
  });

  it("give up on a peer that goes silent while a request waits (hung, or its host gone), and close the link", async () => {
    let served: MessageLink | undefined;
    // Accepts the link and the request, and never answers: what a SIGSTOPped worker looks like.
    const server = await listen({ host: "127.0.0.1", port: 0, secret, roles: ["peer"], label: "test", onConnection: () => {}, onDataLink: ({ link }) => (served = link) });
    servers.push(server);
    const p = new PeerPool(secret, "asker", "peer", 5000, undefined, { sharedMemory: true, silentPeerMs: 600 });
    pools.push(p);
    const started = performance.now();
    await expect(p.fetch(server.address, ["k"])).rejects.toThrow(/nothing received for \d+ s while waiting for an answer: the peer hangs or its host is gone/);
    // Judged from the request, not from when the link last spoke: not before the silence.
    expect(performance.now() - started).toBeGreaterThanOrEqual(600);
    expect(served).toBeDefined();
    // The asker closed the link: the listener sees it end too (afterEach then finds no socket open).
    for (const deadline = Date.now() + 5000; !served?.closed && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
    expect(served?.closed).toBe(true);
  });

  it("fail the request when the stream is cut short in the middle of a result", async () => {
    const address = await fakeListener((socket) => {
      socket.once("data", () => {
        const full = frameBytes([{ op: "data", requestId: 1, data: { k: pattern(MiB, 1) }, missing: [] }]);
        socket.end(full.subarray(0, 300 * 1024));
      });
    });
    await expect(pool().fetch(address, ["k"])).rejects.toThrow(/closed \(1006 the connection ended in the middle of a frame\)/);
  });

  it("fail the request, and close, when the listener sends garbage", async () => {
    const address = await fakeListener((socket) => socket.once("data", () => socket.write(randomBytes(100))));
    await expect(pool().fetch(address, ["k"])).rejects.toThrow(/closed \(4002 .*a frame must start with "SKDF"/);
  });

  it("are closed by the listener when the asker sends garbage, and it goes on serving others", async () => {
    let closed!: (why: [number, string]) => void;
    const closedWith = new Promise<[number, string]>((resolve) => (closed = resolve));
    const server = await dataServer({ k: pattern(100, 1) }, { onLink: (link) => link.onClose((code, reason) => closed([code, reason])) });
    const { socket, answer } = await rawDialler(server.address, secret);
    expect(answer[0]).toBe(0);
    const replies = readBytes(socket, 0, "SKEIN_ERR_PROTOCOL");
    const socketClosed = new Promise((resolve) => socket.once("close", resolve));
    socket.write(Buffer.from("this is not a frame, not even close"));
    expect((await replies).toString("latin1")).toContain("a frame must start with");
    expect(await closedWith).toEqual([CLOSE_CODES.PROTOCOL, expect.stringContaining('a frame must start with "SKDF"')]);
    await socketClosed;
    expect((await pool().fetch(server.address, ["k"])).data.k).toEqual(pattern(100, 1));
  });

  it("answer a message they do not understand with an error, and keep the link", async () => {
    const server = await dataServer({ k: pattern(100, 1) });
    const { socket, answer } = await rawDialler(server.address, secret);
    expect(answer[0]).toBe(0);
    const replies = readBytes(socket, 0, "missing");
    socket.on("error", () => {});
    socket.write(Buffer.concat([frameBytes([{ op: "no-such-op" } as unknown as Message]), frameBytes([{ op: "get-data", requestId: 3, keys: ["k", "x"] }])]));
    const text = (await replies).toString("latin1");
    expect(text).toContain("SKEIN_ERR_PROTOCOL");
    expect(text.indexOf("SKEIN_ERR_PROTOCOL")).toBeLessThan(text.indexOf("missing"));
    socket.destroy();
  });

  it("fail the request when the peer dies in the middle of a transfer", async () => {
    let server!: Listener;
    const big = pattern(64 * MiB, 1);
    server = await dataServer({ big }, {
      // Right after the reply starts out (sends flush on setImmediate), the server goes away with most of it unsent.
      afterReply: () => setImmediate(() => void server.close()),
    });
    await expect(pool().fetch(server.address, ["big"])).rejects.toThrow(/connection to ws:.* closed \(1006 /);
  });

  it("fail requests in flight when the asker closes its pool", async () => {
    const server = await dataServer({ big: pattern(64 * MiB, 1) });
    const peers = pool();
    const pending = peers.fetch(server.address, ["big"]);
    await new Promise((r) => setTimeout(r, 1));
    peers.close();
    await expect(pending).rejects.toMatchObject({ code: "SKEIN_ERR_CLOSED" });
  });
});

describe("with TLS", () => {
  const dir = mkdtempSync(join(tmpdir(), "skein-tls-"));
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=skein", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { stdio: "ignore" });
  writeFileSync(join(dir, "tls.pem"), formatTlsFile(readFileSync(join(dir, "cert.pem"), "utf8"), readFileSync(join(dir, "key.pem"), "utf8")), { mode: 0o600 });
  const tls = readTlsFile(join(dir, "tls.pem"));

  it("a server offers no data links, and data moves over its TLS WebSockets", async () => {
    const big = pattern(3 * MiB, 7);
    const server = await dataServer({ big }, { tls });
    expect(server.address).toMatch(/^wss:/);
    await expect(connectDataLink(server.address.replace("wss:", "ws:"), { role: "peer", secret, name: "x", timeoutMs: 5000, label: "test" })).rejects.toMatchObject({ code: "SKEIN_ERR_CONNECT_FAILED" });
    const { data } = await pool({ tls }).fetch(server.address, ["big"]);
    expect(same(data.big as Uint8Array, big)).toBe(true);
  });
});
