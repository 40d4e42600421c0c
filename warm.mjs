import { Client, createCluster } from "@skein/core";
const cluster = await createCluster({ backend: "local" }, { env: {}, userConfigDir: "/nonexistent" });
await cluster.scale(2);
await cluster.waitForWorkers(2);
const client = await Client.connect(cluster);
const run = async () => {
  const A = client.map((x) => x * 2, Array(48).fill(1));
  const B = client.map((x) => -x, A);
  const t = client.submit((xs) => xs.reduce((a, b) => a + b, 0), B);
  const r = await t.result();
  for (const f of [...A, ...B, t]) f.release();
  return r;
};
for (let i = 0; i < 30; i++) await run();
const times = [];
for (let i = 0; i < 100; i++) { const s = performance.now(); await run(); times.push(performance.now() - s); }
times.sort((a, b) => a - b);
console.log("median", times[50].toFixed(2), "min", times[0].toFixed(2), "p90", times[90].toFixed(2));
await client.close(); await cluster.close();
