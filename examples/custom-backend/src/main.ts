/** The reference scenario on the custom backend: `node dist/main.js` prints -96. */
import { fileURLToPath } from "node:url";
import { Client, createCluster } from "@skein/core";

const backend = fileURLToPath(new URL("./spawn-backend.js", import.meta.url));
await using cluster = await createCluster({ backend, niceness: 5 });
await cluster.scale(2);
await using client = await Client.connect(cluster);
const A = client.map((x: number) => x * 2, Array(48).fill(1));
const B = client.map((x: number) => -x, A);
console.log(await client.submit((xs: number[]) => xs.reduce((a, b) => a + b, 0), B).result());
