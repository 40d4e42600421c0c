/**
 * Large byte strings on real sockets: they travel beside the frame as raw attachments, arrive
 * intact in either direction, and cost the wire their own size plus a few bytes (no base64, no
 * CBOR element by element, no JSON).
 */
import net from "node:net";
import { PROTOCOL_VERSION, encodeAttachmentManifest, encodeFrame, type Message } from "@skein/serialization";
import { WebSocket } from "ws";
import { afterEach, describe, expect, it } from "vitest";
import { CLOSE_CODES, connect, listen, type Connection, type Listener } from "../src/index.js";

const secret = "s3cret";
const MiB = 1024 * 1024;

let server: Listener | undefined;
let proxy: net.Server | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
  proxy = undefined;
});

/** A TCP relay in front of `port` that counts the bytes going each way. */
async function countingProxy(port: number): Promise<{ port: number; toClient: () => number; toServer: () => number }> {
  let toClient = 0;
  let toServer = 0;
  proxy = net.createServer((inbound) => {
    const outbound = net.connect(port, "127.0.0.1");
    inbound.on("data", (d) => (toServer += d.length));
    outbound.on("data", (d) => (toClient += d.length));
    inbound.pipe(outbound).pipe(inbound);
    inbound.on("error", () => outbound.destroy());
    outbound.on("error", () => inbound.destroy());
  });
  await new Promise<void>((resolve) => proxy?.listen(0, "127.0.0.1", resolve));
  const address = proxy.address() as net.AddressInfo;
  return { port: address.port, toClient: () => toClient, toServer: () => toServer };
}

function pattern(n: number, seed: number): Uint8Array {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = (i * 31 + seed) & 0xff;
  return a;
}

const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

function next(connection: Connection): Promise<Message> {
  return new Promise((resolve) => connection.onMessages((messages) => resolve(messages[0] as Message)));
}

describe("attachments", () => {
  it("carry large byte strings both ways at their own size on the wire", async () => {
    const n = 16 * MiB + 5;
    const fromServer = pattern(n, 1);
    const fromClient = pattern(n, 2);
    let serverSide: Connection | undefined;
    let arrived!: (message: Message) => void;
    const received = new Promise<Message>((resolve) => (arrived = resolve));
    server = await listen({
      host: "127.0.0.1",
      port: 0,
      secret,
      roles: ["peer"],
      label: "test",
      sharedMemory: true,
      onConnection: ({ connection }) => {
        serverSide = connection;
        connection.onMessages((messages) => arrived(messages[0] as Message));
      },
    });
    const relay = await countingProxy(server.port);
    const { connection } = await connect(`ws://127.0.0.1:${relay.port}`, { role: "peer", secret, name: "c", timeoutMs: 5000, label: "test" });
    const sentBefore = relay.toServer();

    // Client → server (the client side would mask; it sends with a zero mask, so no copy).
    connection.send({ op: "put-data", requestId: 1, key: "k", data: fromClient, stimulusId: "s" });
    const put = (await received) as Extract<Message, { op: "put-data" }>;
    expect(put.data.byteLength).toBe(n);
    expect(same(put.data, fromClient)).toBe(true);
    // Received into shared memory of its own: a worker hands it to its threads as it is.
    expect(put.data.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(put.data.byteOffset).toBe(0);
    expect(put.data.buffer.byteLength).toBe(n);
    expect(relay.toServer() - sentBefore).toBeGreaterThanOrEqual(n);
    expect(relay.toServer() - sentBefore).toBeLessThan(n + 64 * 1024);

    // Server → client, into private memory.
    const receivedBefore = relay.toClient();
    const reply = next(connection);
    serverSide?.send({ op: "data", requestId: 1, data: { k: fromServer, small: new Uint8Array([1, 2]) }, missing: [] });
    const data = (await reply) as Extract<Message, { op: "data" }>;
    expect(same(data.data.k as Uint8Array, fromServer)).toBe(true);
    expect(data.data.small).toEqual(new Uint8Array([1, 2]));
    expect((data.data.k as Uint8Array).buffer).toBeInstanceOf(ArrayBuffer);
    expect(relay.toClient() - receivedBefore).toBeGreaterThanOrEqual(n);
    expect(relay.toClient() - receivedBefore).toBeLessThan(n + 64 * 1024);
    connection.close();
  });

  it("keeps messages in order around frames with attachments", async () => {
    const got: Message[] = [];
    let done!: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    server = await listen({
      host: "127.0.0.1",
      port: 0,
      secret,
      roles: ["peer"],
      label: "test",
      onConnection: ({ connection }) =>
        connection.onMessages((messages) => {
          got.push(...messages);
          if (got.length === 3) done();
        }),
    });
    const { connection } = await connect(server.address, { role: "peer", secret, name: "c", timeoutMs: 5000, label: "test" });
    const a = pattern(3 * MiB, 3);
    const b = pattern(200 * 1024, 4);
    connection.send({ op: "get-data", requestId: 1, keys: ["x"] });
    connection.flush();
    connection.send({ op: "put-data", requestId: 2, key: "a", data: a, stimulusId: "s" });
    connection.send({ op: "put-data", requestId: 3, key: "b", data: b, stimulusId: "s" });
    await all;
    expect(got.map((m) => (m as { requestId: number }).requestId)).toEqual([1, 2, 3]);
    expect(same((got[1] as Extract<Message, { op: "put-data" }>).data, a)).toBe(true);
    expect(same((got[2] as Extract<Message, { op: "put-data" }>).data, b)).toBe(true);
    connection.close();
  });

  it("closes a connection whose attachments do not match their manifest", async () => {
    server = await listen({ host: "127.0.0.1", port: 0, secret, roles: ["peer"], label: "test", onConnection: () => {} });
    const ws = new WebSocket(server.address);
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    ws.send(encodeFrame([{ op: "hello", role: "peer", protocol: PROTOCOL_VERSION, secret, name: "raw" }]));
    await new Promise((resolve) => ws.once("message", resolve)); // welcome
    const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
    ws.send(encodeAttachmentManifest([10]));
    ws.send(new Uint8Array(11)); // one byte more than announced
    expect(await closed).toBe(CLOSE_CODES.PROTOCOL);
  });

  it("is only read after the hello: a manifest instead of a hello is refused", async () => {
    server = await listen({ host: "127.0.0.1", port: 0, secret, roles: ["peer"], label: "test", onConnection: () => {} });
    const ws = new WebSocket(server.address);
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
    ws.send(encodeAttachmentManifest([10]));
    expect(await closed).toBe(CLOSE_CODES.PROTOCOL);
  });
});
