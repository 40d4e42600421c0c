/**
 * Heartbeats per role, against a peer that really stops answering (SIGSTOP of its process): a
 * worker is dropped at the first missed pong; a client is given `deadAfterMs` (its event loop is
 * the user's, and dropping it would release every future it holds).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { listen, type AcceptedConnection, type Listener } from "../src/index.js";

const transport = fileURLToPath(new URL("../dist/index.js", import.meta.url));
const secret = "heartbeat-secret";

let server: Listener | undefined;
let peer: ChildProcess | undefined;
afterEach(async () => {
  peer?.kill("SIGKILL");
  peer = undefined;
  await server?.close();
  server = undefined;
});

/** A peer in its own process, connected with `role`, that we can stop and continue. */
async function startPeer(address: string, role: "client" | "worker"): Promise<ChildProcess> {
  const script = `import { connect } from ${JSON.stringify(transport)};
await connect(${JSON.stringify(address)}, { role: ${JSON.stringify(role)}, secret: ${JSON.stringify(secret)}, name: "peer", timeoutMs: 5000, label: "test" });
process.stdout.write("connected\\n");
setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => chunk.toString().includes("connected") && resolve());
    child.once("exit", (code) => reject(new Error(`peer exited with ${code}`)));
  });
  return child;
}

/** Stop the peer's process for `ms` (the scenario itself, not a wait for something to happen). */
async function stoppedFor(child: ChildProcess, ms: number): Promise<void> {
  child.kill("SIGSTOP");
  await new Promise((r) => setTimeout(r, ms));
  child.kill("SIGCONT");
}

describe("heartbeats per role", () => {
  for (const role of ["client", "worker"] as const) {
    it(`a ${role} that stops answering for 1.2 s ${role === "client" ? "stays connected (deadAfterMs 10 s)" : "is dropped (heartbeat 200 ms)"}`, async () => {
      let accepted: AcceptedConnection | undefined;
      server = await listen({
        host: "127.0.0.1",
        port: 0,
        secret,
        roles: ["client", "worker"],
        label: "test",
        heartbeatMs: 200,
        deadAfterMs: { client: 10_000 },
        onConnection: (connection) => (accepted = connection),
      });
      peer = await startPeer(server.address, role);
      let closed = false;
      accepted?.connection.onClose(() => (closed = true));
      await stoppedFor(peer, 1200);
      if (role === "worker") {
        await vi.waitFor(() => expect(closed).toBe(true), { timeout: 5000, interval: 20 });
      } else {
        // Absence can only be checked over a window: three heartbeats after it continued, a drop
        // (which the worker case shows comes within one) would have happened.
        await new Promise((r) => setTimeout(r, 600));
        expect(closed).toBe(false);
      }
    });
  }
});
