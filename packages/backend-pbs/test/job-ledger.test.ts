/**
 * A client killed with -9 cannot cancel its jobs; queued ones would wait in the batch queue and
 * start for nobody. The job ledger lets `skein jobs list` show them and `skein jobs cancel
 * --orphaned` remove them.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { asJobId, type JobId } from "@skein/core";
import { pbsBackend } from "../src/index.js";
import { describeOnTestCluster, until } from "./helpers.js";

const coreDist = fileURLToPath(new URL("../../core/dist/index.js", import.meta.url));
const cli = fileURLToPath(new URL("../../cli/dist/cli.js", import.meta.url));

describeOnTestCluster("the job ledger after kill -9 of the client", () => {
  let dir: string;
  let stateDir: string;
  const backend = pbsBackend();
  let ids: JobId[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "skein-ledger-"));
    stateDir = join(dir, "state");
  });
  afterEach(async () => {
    await backend.cancel(ids);
    ids = [];
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const skein = (...args: string[]) =>
    execFileSync(process.execPath, [cli, ...args], { encoding: "utf8", env: { ...process.env, SKEIN_STATE_DIR: stateDir } });

  it("lists the dead client's queued jobs and cancels them", async () => {
    const script = join(dir, "orphan.mjs");
    // Three 48-core jobs on the one 48-core node: one runs, two wait in the queue.
    writeFileSync(
      script,
      `import { createCluster } from ${JSON.stringify(coreDist)};
const cluster = await createCluster({ backend: "pbs", name: "orphan", cores: 48, processes: 1, resourceSpec: "nodes=1:c18a:ppn=48", interface: "lo", sharedDirectory: ${JSON.stringify(dir)} }, { cwd: ${JSON.stringify(dir)}, env: {}, userConfigDir: ${JSON.stringify(join(dir, "none"))} });
await cluster.scale(3);
console.log(JSON.stringify(cluster.jobs.map((j) => j.id)));
await new Promise(() => {});
`,
    );
    const child = spawn(process.execPath, [script], { cwd: dir, env: { ...process.env, SKEIN_STATE_DIR: stateDir }, stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    const line = await until(() => "the job ids", () => stdout.split("\n").find((l) => l.startsWith("[")), 30_000);
    ids = (JSON.parse(line) as string[]).map(asJobId);
    expect(ids).toHaveLength(3);
    child.kill("SIGKILL");
    await new Promise((r) => child.on("exit", r));

    const listed = JSON.parse(skein("jobs", "list", "--json")) as { cluster: string; owner: string; jobs: Record<string, { state: string }> }[];
    expect(listed).toHaveLength(1);
    expect(listed[0]?.owner).toBe("owner gone");
    expect(Object.keys(listed[0]?.jobs ?? {}).sort()).toEqual([...ids].sort());
    expect(Object.values(listed[0]?.jobs ?? {}).filter((s) => s.state === "queued").length).toBeGreaterThanOrEqual(1);

    const cancelled = skein("jobs", "cancel", "--orphaned");
    expect(cancelled).toMatch(new RegExp(`cancelled 3 jobs of ${listed[0]?.cluster} \\(pbs\\)`));
    await until(
      () => "the jobs gone from the batch system",
      async () => {
        const states = await backend.status(ids);
        return ids.every((id) => states.get(id)?.state === "exited");
      },
      60_000,
    );
    expect(readdirSync(join(stateDir, "clusters"))).toEqual([]);
    expect(skein("jobs", "list")).toContain("No clusters with jobs");
    // The dead client's secret went with its last job; only its jobs' output may stay.
    const left = readdirSync(join(dir, "clusters")).flatMap((cluster) => readdirSync(join(dir, "clusters", cluster)).map((entry) => `${cluster}/${entry}`));
    expect(left.filter((path) => !/^orphan-[0-9a-f]{8}\/jobs$/.test(path))).toEqual([]);
  });

  it("says when nothing matches, and what the actions are", () => {
    expect(() => skein("jobs", "cancel", "no-such-cluster")).toThrow(/no cluster or job matches no-such-cluster/);
    expect(() => skein("jobs", "frobnicate")).toThrow(/expected "list" or "cancel"/);
  });
});
