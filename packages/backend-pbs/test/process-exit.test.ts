/**
 * A script that ends without close() still leaves no job: on exit the cluster's hook runs qdel
 * synchronously (cancelSync); on SIGINT it cancels, waits until qstat says the jobs are gone, and
 * prints one line. The script runs from dist/ in its own node process, as a user's would.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { asJobId, type JobId } from "@skein/core";
import { pbsBackend } from "../src/index.js";
import { describeOnTestCluster, until } from "./helpers.js";

const coreDist = fileURLToPath(new URL("../../core/dist/index.js", import.meta.url));

describeOnTestCluster("pbs jobs when the user's process ends without close()", () => {
  let dir: string;
  const backend = pbsBackend();
  let ids: JobId[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "skein-pbs-exit-"));
  });
  afterEach(async () => {
    await backend.cancel(ids);
    ids = [];
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Start a script that scales to 2 jobs, prints their ids, then does `then`. */
  const run = (name: string, then: string) => {
    const script = join(dir, `${name}.mjs`);
    writeFileSync(
      script,
      `import { createCluster } from ${JSON.stringify(coreDist)};
const cluster = await createCluster({ backend: "pbs", name: ${JSON.stringify(name)}, interface: "lo", sharedDirectory: ${JSON.stringify(dir)} }, { cwd: ${JSON.stringify(dir)}, env: {}, userConfigDir: ${JSON.stringify(join(dir, "none"))} });
await cluster.scale(2);
console.log(JSON.stringify(cluster.jobs.map((j) => j.id)));
${then}
`,
    );
    const child = spawn(process.execPath, [script], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    const output = { stdout: "", stderr: "" };
    child.stdout.on("data", (chunk: Buffer) => (output.stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output.stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    return { child, output, exited };
  };

  const allGone = async (jobIds: JobId[]) => {
    const states = await backend.status(jobIds);
    return jobIds.every((id) => states.get(id)?.state === "exited");
  };

  it("process.exit() cancels every job at once (qdel from the exit hook)", async () => {
    const { output, exited } = run("exitearly", "process.exit(0);");
    expect(await exited).toBe(0);
    ids = (JSON.parse(output.stdout.trim()) as string[]).map(asJobId);
    expect(ids).toHaveLength(2);
    expect(output.stderr).toBe("");
    await until(() => `jobs ${ids.join(", ")} to be gone`, () => allGone(ids), 10_000);
  }, 120_000);

  it("SIGINT cancels every job, waits until they are gone, and says so in one line", async () => {
    const { child, output, exited } = run("ctrlc", "setInterval(() => {}, 1000);");
    await until(() => `the script to print its job ids (stderr: ${output.stderr})`, () => output.stdout.includes("]"), 30_000);
    ids = (JSON.parse(output.stdout.trim()) as string[]).map(asJobId);
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(output.stderr).toBe("[skein] SIGINT: cancelled 2 jobs of ctrlc\n");
    expect(await allGone(ids)).toBe(true);
  }, 120_000);
});
