/**
 * examples/seed-torque as a user runs it: `qsub demo.pbs` starts the master job (tcsh, on vortex),
 * whose Skein script submits 4 worker jobs on c18a with qsub, computes, prints -96 into
 * out_demo.out and leaves no job behind.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { asJobId } from "@skein/core";
import { pbsBackend } from "../src/index.js";
import { describeOnTestCluster, squeueNames, until } from "./helpers.js";

const example = fileURLToPath(new URL("../../../examples/seed-torque/", import.meta.url));
const outDemo = join(example, "out_demo.out");

describeOnTestCluster("examples/seed-torque: qsub demo.pbs on the test cluster", () => {
  let dir: string;
  let demoId: string | undefined;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "skein-seed-torque-"));
    execFileSync("npm", ["run", "build"], { cwd: example, stdio: "pipe" });
    rmSync(outDemo, { force: true });
  }, 120_000);

  afterAll(async () => {
    // After a failure: the master job, and any worker job it submitted (named exDaskCluster, later
    // ids). Wait until Slurm is done with them: it still writes to their output files meanwhile.
    const left = (): string[] =>
      execFileSync("squeue", ["--noheader", "--format=%i %j"], { encoding: "utf8" })
        .split("\n")
        .map((line) => line.split(" "))
        .filter(([id, name]) => demoId !== undefined && (id === demoId || (name === "exDaskCluster" && Number(id) > Number(demoId))))
        .map(([id]) => id as string);
    if (left().length > 0) {
      spawnSync("qdel", left(), { stdio: "ignore" });
      await until(() => `jobs ${left().join(", ")} to be gone`, () => left().length === 0, 45_000);
    }
    rmSync(outDemo, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("prints -96 into out_demo.out and nothing else, and no job is left", async () => {
    const masterLog = join(dir, "demojob.out");
    // SKEIN_INTERFACE=lo reaches the job because the wrappers' jobs inherit qsub's environment; it
    // overrides skein.config.yaml's "ib0", which this machine does not have. -o keeps the master's
    // own (empty) output out of the example directory.
    // Also as from a user's shell: without the FORCE_COLOR that nx sets, which would colour console.log's -96.
    const { FORCE_COLOR: _colour, ...env } = process.env;
    demoId = execFileSync("qsub", ["-j", "oe", "-o", masterLog, "demo.pbs"], { cwd: example, encoding: "utf8", env: { ...env, SKEIN_INTERFACE: "lo" } }).trim();
    expect(demoId).toMatch(/^\d+$/);

    const backend = pbsBackend();
    const id = asJobId(demoId);
    await until(() => `the master job ${id} to end (out_demo.out: ${safeRead(outDemo)})`, async () => (await backend.status([id])).get(id)?.state === "exited", 180_000);
    // The wrappers' qstat has no exit status; Slurm's own state tells COMPLETED (exit 0) from FAILED.
    expect(execFileSync("squeue", ["--noheader", "--states=all", `--jobs=${demoId}`, "--format=%T"], { encoding: "utf8" }).trim()).toBe("COMPLETED");
    expect(readFileSync(outDemo, "utf8")).toBe("-96\n");
    expect(readFileSync(masterLog, "utf8")).toBe("");
    await until(() => `no exDaskCluster or demojob job in squeue (${squeueNames().join(", ")})`, () => !squeueNames().some((n) => n === "exDaskCluster" || n === "demojob"), 30_000);
  }, 300_000);
});

function safeRead(path: string): string {
  try {
    return JSON.stringify(readFileSync(path, "utf8").slice(-2000));
  } catch {
    return "(not written yet)";
  }
}
