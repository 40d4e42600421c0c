// A binary result moved worker → worker (64 MiB and 1 MiB) and gathered to the client, against
// the raw loopback TCP rate measured in the same run.
import { createHash } from "node:crypto";
import { measureLoopback } from "../lib/loopback.mjs";
import { check, median, now, round, withSkein } from "./common.mjs";

export const description = "binary result worker → worker and → client, vs raw loopback TCP";
export const figures = {
  mb_per_s: { better: "higher", unit: "MB/s" },
  small_mb_per_s: { better: "higher", unit: "MB/s" },
  gather_mb_per_s: { better: "higher", unit: "MB/s" },
  fraction_of_loopback: { better: "higher", unit: "" },
};
export const params = {
  full: { big: 64 * 2 ** 20, small: 2 ** 20, big_repeats: 5, small_repeats: 20 },
  quick: { big: 8 * 2 ** 20, small: 2 ** 20, big_repeats: 2, small_repeats: 5 },
};

// The same deterministic bytes on the producer and, for the check, in this process.
const make = (n, seed) => {
  const a = new Uint8Array(n);
  const w = new Uint32Array(a.buffer, 0, n >>> 2);
  let x = seed >>> 0;
  for (let i = 0; i < w.length; i++) w[i] = x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
  for (let i = w.length * 4; i < n; i++) a[i] = i & 0xff;
  return a;
};
// Runs on the receiving worker: the checksum, and how long computing it took (left out of the rate).
const digest = async (a) => {
  const t0 = performance.now();
  const { createHash: hash } = await import("node:crypto");
  if (!(a instanceof Uint8Array)) throw new Error(`expected a Uint8Array, got ${Object.prototype.toString.call(a)}`);
  return { sha: hash("sha256").update(a).digest("hex"), bytes: a.byteLength, s: (performance.now() - t0) / 1000 };
};
const sha = (a) => createHash("sha256").update(a).digest("hex");

export async function run({ big, small, big_repeats, small_repeats }) {
  const loopback = await measureLoopback({ bytes: big, repeats: big_repeats });
  return withSkein(async (client) => {
    const [from, to] = client.workers;
    check(from && to && from !== to, `two workers, got ${client.workers}`);
    const onFrom = client.with({ workers: [from] });
    const onTo = client.with({ workers: [to] });

    // One transfer: produce on `from`, wait until it is there, then time a task on `to` that needs it.
    async function workerToWorker(n, seed) {
      const data = onFrom.submit(make, n, seed);
      await client.wait([data]);
      const t0 = now();
      const received = onTo.submit(digest, data);
      const got = await received.result();
      const wall = (now() - t0) / 1000;
      check(got.bytes === n && got.sha === sha(make(n, seed)), `worker → worker ${n} bytes arrived with sha ${got.sha}`);
      data.release();
      received.release();
      return wall - got.s;
    }
    async function toClient(n, seed) {
      const data = onFrom.submit(make, n, seed);
      await client.wait([data]);
      const t0 = now();
      const got = await data.result();
      const wall = (now() - t0) / 1000;
      check(got instanceof Uint8Array && got.byteLength === n && sha(got) === sha(make(n, seed)), `gathered ${n} bytes wrong`);
      data.release();
      return wall;
    }
    const rate = (n, seconds) => n / 1e6 / seconds;

    await workerToWorker(small, 1); // warm-up: functions compiled, worker ↔ worker connection open
    await toClient(small, 2);
    const bigTimes = [];
    for (let i = 0; i < big_repeats; i++) bigTimes.push(await workerToWorker(big, 10 + i));
    const smallTimes = [];
    for (let i = 0; i < small_repeats; i++) smallTimes.push(await workerToWorker(small, 100 + i));
    const gatherTimes = [];
    for (let i = 0; i < big_repeats; i++) gatherTimes.push(await toClient(big, 200 + i));

    const mb = rate(big, median(bigTimes));
    return {
      mb_per_s: round(mb),
      small_mb_per_s: round(rate(small, median(smallTimes))),
      gather_mb_per_s: round(rate(big, median(gatherTimes))),
      fraction_of_loopback: round(mb / loopback.mb_per_s),
      loopback_mb_per_s: round(loopback.mb_per_s),
      best_mb_per_s: round(rate(big, Math.min(...bigTimes))),
      bytes: big,
      small_bytes: small,
    };
  });
}
