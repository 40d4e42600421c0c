/** Seeing what happened: a standalone performance report, and the workers' logs from the client. */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { performanceReport, type Client } from "@skein/core";
import { expectNoProcessesLeft, startLocal, type LocalSetup } from "./helpers.js";

let setup: LocalSetup;
let client: Client;
beforeAll(async () => {
  setup = await startLocal(2);
  client = setup.client;
});
afterAll(async () => {
  await setup?.close();
  await expectNoProcessesLeft();
});

describe("performanceReport", () => {
  it("writes one standalone HTML file with the block's task stream and no token", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "skein-report-")), "report.html");
    const multiply = (x: number) => x * 2;
    const total = await performanceReport(path, async () => {
      const A = client.map(multiply, Array(48).fill(1));
      return client.submit((xs: number[]) => xs.reduce((a, b) => a + b, 0), A).result();
    });
    expect(total).toBe(96);
    const html = readFileSync(path, "utf8");
    expect(html).toMatch(/^<!doctype html>/i);
    // Self-contained: no asset is fetched from the scheduler.
    expect(html).not.toMatch(/src="assets\/|href="assets\//);
    const token = setup.cluster.scheduler.dashboard?.token;
    expect(token).toBeTruthy();
    expect(html).not.toContain(token as string);
    expect(html).toContain("uPlot");
    const data = JSON.parse(/window\.SKEIN_REPORT = (.*);<\/script>/.exec(html)?.[1]?.replaceAll("<\\/", "</") ?? "null") as { stream: { prefix: string }[] };
    expect(data.stream.filter((e) => e.prefix === "multiply")).toHaveLength(48);
  });
});

describe("getWorkerLogs", () => {
  it("returns what each worker wrote to its log, by worker name", async () => {
    // A task that writes to the worker's stderr, as a library warning would.
    await client.with({ workers: "skein-1-0" }).submit(() => process.stderr.write("a warning from a task\n")).result();
    const logs = await client.getWorkerLogs();
    expect(Object.keys(logs).sort()).toEqual(["skein-0-0", "skein-1-0"]);
    expect(logs["skein-1-0"]).toContain("a warning from a task");
    const one = await client.getWorkerLogs({ workers: ["skein-0-0"] });
    expect(Object.keys(one)).toEqual(["skein-0-0"]);
  });
});
