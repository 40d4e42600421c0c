/**
 * A bounded fuzz run (SKEIN_FUZZ_SECONDS, default 20 s) against a live scheduler and live workers
 * over loopback, while a well-behaved client computes: random frames from strangers, random and
 * malformed messages from connections that know the secret (a buggy or hostile insider). The
 * receivers answer with errors or drop that one connection; everyone else's results stay correct.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { Client, type Cluster } from "@skein/core";
import { MESSAGE_SCHEMAS, PROTOCOL_VERSION, encodeFrame } from "@skein/serialization";
import { expectNoProcessesLeft, startLocal, type LocalSetup } from "./helpers.js";

const SECONDS = Number(process.env.SKEIN_FUZZ_SECONDS ?? 20);
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

interface Figures {
  inputsTried: number;
  framesSent: number;
  connectionsRejected: number;
  errorRepliesReceived: number;
  resultsChecked: number;
  wrongResults: number;
}

/** Open a socket, optionally say hello, send frames; resolves with what the peer did. */
function session(address: string, hello: unknown | undefined, frames: Uint8Array[], figures: Figures): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(address);
    const done = () => resolve();
    const timer = setTimeout(() => ws.terminate(), 1500);
    ws.on("open", () => {
      if (hello) ws.send(encodeFrame([hello]));
      for (const frame of frames) {
        ws.send(frame);
        figures.framesSent++;
      }
      setTimeout(() => ws.close(), 200);
    });
    ws.on("message", () => figures.errorRepliesReceived++);
    ws.on("close", (code) => {
      if (code === 4001 || code === 4002) figures.connectionsRejected++;
      clearTimeout(timer);
      done();
    });
    ws.on("error", () => {
      clearTimeout(timer);
      done();
    });
  });
}

const arbitraryMessage = fc.oneof(
  // Shape-correct ops with random fields.
  fc.tuple(fc.constantFrom(...Object.keys(MESSAGE_SCHEMAS)), fc.dictionary(fc.constantFrom("key", "keys", "requestId", "tasks", "wants", "functions", "deps", "data", "items", "force", "stimulusId", "reason", "name", "status"), fc.anything(), { maxKeys: 6 })).map(([op, fields]) => ({ ...fields, op })),
  // Well-formed messages that mean nothing to the receiver.
  fc.record({ op: fc.constant("release-keys"), keys: fc.array(fc.string({ minLength: 1, maxLength: 20 }), { maxLength: 10 }), stimulusId: fc.string() }),
  fc.record({ op: fc.constant("cancel-keys"), keys: fc.array(fc.string({ minLength: 1, maxLength: 20 }), { maxLength: 10 }), force: fc.boolean(), stimulusId: fc.string() }),
  fc.record({ op: fc.constant("who-has"), requestId: fc.integer(), keys: fc.array(fc.string({ minLength: 1 }), { maxLength: 5 }) }),
  fc.record({ op: fc.constant("get-data"), requestId: fc.integer(), keys: fc.array(fc.string({ minLength: 1 }), { maxLength: 5 }) }),
  fc.record({
    op: fc.constant("update-graph"),
    functions: fc.constant([]),
    tasks: fc.array(
      fc.record({ key: fc.string({ minLength: 1, maxLength: 12 }), fnHash: fc.string(), args: fc.uint8Array({ maxLength: 16 }), deps: fc.array(fc.string({ minLength: 1, maxLength: 12 }), { maxLength: 3 }), priority: fc.integer(), retries: fc.nat(2) }),
      { maxLength: 5 },
    ),
    wants: fc.array(fc.string({ minLength: 1, maxLength: 12 }), { maxLength: 5 }),
    stimulusId: fc.string(),
  }),
  fc.anything(),
);

describe("live fuzz", () => {
  it(`${SECONDS} s of hostile input while a client computes: every result right, every receiver alive`, async () => {
    const figures: Figures = { inputsTried: 0, framesSent: 0, connectionsRejected: 0, errorRepliesReceived: 0, resultsChecked: 0, wrongResults: 0 };
    const deadline = Date.now() + SECONDS * 1000;
    const worker = [...cluster.scheduler.state.workers.values()][0]!;

    const good = (async () => {
      const client = await Client.connect(cluster);
      let round = 0;
      while (Date.now() < deadline) {
        const xs = Array.from({ length: 50 }, (_, i) => i + round);
        const total = client.submit((ys: number[]) => ys.reduce((a, b) => a + b, 0), client.map((x: number) => x * 3, xs));
        const got = await total.result({ timeout: 30_000 });
        figures.resultsChecked++;
        if (got !== xs.reduce((s, x) => s + 3 * x, 0)) figures.wrongResults++;
        round++;
      }
      await client.close();
    })();

    const strangers = (async () => {
      while (Date.now() < deadline) {
        const [bytes, target] = fc.sample(fc.tuple(fc.uint8Array({ maxLength: 512 }), fc.constantFrom(cluster.schedulerAddress, worker.address)), 1)[0]!;
        figures.inputsTried++;
        const wrongHello = { op: "hello", role: "client", protocol: PROTOCOL_VERSION, secret: "not-the-secret", name: "stranger" };
        await session(target, Math.random() < 0.5 ? wrongHello : undefined, [bytes], figures);
      }
    })();

    const insiders = (async () => {
      while (Date.now() < deadline) {
        const messages = fc.sample(arbitraryMessage, 20);
        figures.inputsTried += messages.length;
        const toWorker = Math.random() < 0.3;
        const hello = { op: "hello", role: toWorker ? "peer" : "client", protocol: PROTOCOL_VERSION, secret: cluster.secret, name: "insider" };
        const frames = messages.map((m) => {
          try {
            return encodeFrame([m]);
          } catch {
            return encodeFrame([{ op: "error", code: "x", message: "unencodable" }]);
          }
        });
        await session(toWorker ? worker.address : cluster.schedulerAddress, hello, frames, figures);
      }
    })();

    await Promise.all([good, strangers, insiders]);
    console.log(`[fuzz] ${JSON.stringify(figures)}`);
    expect(figures.wrongResults).toBe(0);
    expect(figures.resultsChecked).toBeGreaterThan(3);
    expect(figures.connectionsRejected).toBeGreaterThan(0);
    // Still serving: a new client computes.
    const after = await Client.connect(cluster);
    try {
      expect(await after.submit((x: number) => x + 1, 1).result({ timeout: 10_000 })).toBe(2);
      expect(cluster.workers.length).toBe(2);
    } finally {
      await after.close();
    }
  }, (SECONDS + 60) * 1000);
});
