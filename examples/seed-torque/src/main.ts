/**
 * The reference scenario, on the cluster that skein.config.yaml (next to this package) describes:
 * 4 Torque jobs of 12 workers each, map multiply over 48 inputs, map neg, sum.
 */
import { Client, createCluster } from "@skein/core";

const multiply = (x: number) => x * 2;
const neg = (x: number) => -x;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

await using cluster = await createCluster(); // backend, resources and names come from skein.config.yaml
await cluster.scale(48); // 48 workers = 4 jobs of `processes: 12`
await using client = await Client.connect(cluster);

const A = client.map(multiply, Array(48).fill(1));
const B = client.map(neg, A); // each neg runs where its multiply result already is
const total = client.submit(sum, B);
console.log(await total.result()); // -96
