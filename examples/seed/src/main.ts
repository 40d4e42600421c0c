/**
 * The reference scenario. Runs on whatever backend the configuration names (skein.config.*,
 * SKEIN_BACKEND=…); with no configuration, on local worker processes.
 */
import { Client, createCluster } from "@skein/core";

const multiply = (x: number) => x * 2;
const neg = (x: number) => -x;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

await using cluster = await createCluster();
await cluster.scale(4);
await using client = await Client.connect(cluster);

const A = client.map(multiply, Array(48).fill(1));
const B = client.map(neg, A); // each neg runs where its multiply result already is
const total = client.submit(sum, B);
console.log(await total.result()); // -96
