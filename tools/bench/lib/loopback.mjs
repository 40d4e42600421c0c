// Raw loopback TCP rate, the ceiling for moving bytes between two processes on this machine:
// a `net` server in a child process receives `bytes` and acks with one byte; this process sends the
// same Buffer `repeats` times on one warm connection. Used by the transfer benchmark of both systems
// (`node loopback.mjs BYTES REPEATS` prints {"mb_per_s":…} for the Dask side).
import { spawn } from "node:child_process";
import net from "node:net";
import { fileURLToPath } from "node:url";

function serve(bytes) {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    let got = 0;
    socket.on("data", (chunk) => {
      got += chunk.length;
      while (got >= bytes) {
        got -= bytes;
        socket.write("k");
      }
    });
  });
  server.listen(0, "127.0.0.1", () => process.stdout.write(`${server.address().port}\n`));
  process.stdin.on("end", () => process.exit(0)).resume(); // the parent closed our stdin: done
}

/** Median MB/s (10^6 bytes) of `repeats` sends of `bytes` bytes, after one warm-up send. */
export async function measureLoopback({ bytes, repeats = 5 }) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "serve", String(bytes)], { stdio: ["pipe", "pipe", "inherit"] });
  try {
    const port = await new Promise((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code) => reject(new Error(`loopback server exited with ${code}`)));
      child.stdout.once("data", (d) => resolve(Number(String(d).trim())));
    });
    const socket = net.connect(port, "127.0.0.1");
    socket.setNoDelay(true);
    await new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    const payload = Buffer.alloc(bytes, 0xa5);
    const once = () =>
      new Promise((resolve) => {
        const t0 = performance.now();
        socket.once("data", () => resolve(performance.now() - t0));
        socket.write(payload);
      });
    await once(); // warm-up: TCP window, buffers
    const times = [];
    for (let i = 0; i < repeats; i++) times.push(await once());
    socket.destroy();
    times.sort((a, b) => a - b);
    const median = times[times.length >> 1];
    return { mb_per_s: bytes / 1e6 / (median / 1000), best_mb_per_s: bytes / 1e6 / (times[0] / 1000) };
  } finally {
    child.stdin.end();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [mode, a, b] = process.argv.slice(2);
  if (mode === "serve") serve(Number(a));
  else {
    const result = await measureLoopback({ bytes: Number(mode), repeats: Number(a ?? 5) });
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
}
