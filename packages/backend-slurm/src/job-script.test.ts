import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { asJobId, type JobSpec } from "@skein/core";
import { SLURM_ARRAYS } from "./slurm-backend.js";
import { slurmJobScript } from "./job-script.js";

const dir = mkdtempSync(join(tmpdir(), "skein-slurm-script-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const job: JobSpec = {
  name: "exDaskCluster",
  workerProcesses: 2,
  threadsPerWorker: 1,
  cores: 2,
  schedulerAddress: "ws://10.1.2.3:40123",
  secret: "never-in-the-script",
  secretFile: "/home/me/.skein/clusters/x/secret",
  workerCommand: ["/bin/echo"],
  workerArgs: ["ws://10.1.2.3:40123", "--nworkers", "2", "--name", "exDaskCluster-0"],
  env: { A: "x y!" },
  prologue: ["echo prologue"],
};

function save(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o700 });
  return path;
}

describe("slurmJobScript", () => {
  const text = slurmJobScript(job, { partition: "batch", jobExtraDirectives: [], shebang: "#!/bin/tcsh" });

  it("has the shebang, #SBATCH lines, then the worker; never the secret", () => {
    const lines = text.split("\n");
    expect(lines[0]).toBe("#!/bin/tcsh");
    expect(lines[1]).toBe("#SBATCH --job-name=exDaskCluster");
    expect(lines).toContain("#SBATCH --partition=batch");
    expect(text).not.toContain("never-in-the-script");
    expect(text).not.toMatch(/\bexport\b|\$SLURM_|\$\{/);
    expect(slurmJobScript(job, { jobExtraDirectives: [] }).split("\n")[0]).toBe("#!/usr/bin/env bash");
  });

  it.each(["tcsh", "sh", "bash"])("passes %s -n and runs under it with /bin/echo as the worker", (shell) => {
    const path = save(`run-${shell}`, text);
    expect(spawnSync(shell, ["-n", path], { encoding: "utf8" })).toMatchObject({ status: 0, stderr: "" });
    const result = spawnSync(shell, [path], { encoding: "utf8", env: { PATH: "/usr/bin:/bin" } });
    expect([result.status, result.stderr, result.stdout]).toEqual([0, "", `prologue\n${job.workerArgs.join(" ")}\n`]);
  });
});

describe("job arrays and jobs on several nodes", () => {
  const last = (text: string) => text.trimEnd().split("\n").at(-1) ?? "";

  it("an array element names its workers after SLURM_ARRAY_TASK_ID; each node after SLURM_NODEID, started by srun", () => {
    expect(last(slurmJobScript({ ...job, arraySize: 3 }, { jobExtraDirectives: [] }))).toMatch(/ --name exDaskCluster-0 --name-env SLURM_ARRAY_TASK_ID$/);
    expect(last(slurmJobScript({ ...job, nodes: 2 }, { jobExtraDirectives: [] }))).toBe(
      "exec srun --nodes=2 --ntasks=2 --ntasks-per-node=1 --cpus-per-task=2 /usr/bin/env SKEIN_SECRET_FILE=/home/me/.skein/clusters/x/secret 'A=x y'\\!'' /bin/echo ws://10.1.2.3:40123 --nworkers 2 --name exDaskCluster-0 --name-env SLURM_NODEID",
    );
  });

  it.each(["tcsh", "sh", "bash"])("array and multi-node scripts pass %s -n", (shell) => {
    const path = save(`extra-${shell}`, slurmJobScript({ ...job, nodes: 2, arraySize: 2 }, { jobExtraDirectives: [], shebang: "#!/bin/tcsh" }));
    expect(spawnSync(shell, ["-n", path], { encoding: "utf8" })).toMatchObject({ status: 0, stderr: "" });
  });

  it("submits arrays with --array=1-N and names elements 12_1 … 12_N", () => {
    expect(SLURM_ARRAYS.submitArgs(4)).toEqual(["--array=1-4"]);
    expect(SLURM_ARRAYS.elementIds(asJobId("12"), 3)).toEqual(["12_1", "12_2", "12_3"]);
    expect(() => SLURM_ARRAYS.elementIds(asJobId("12;cluster"), 3)).toThrow(/not a Slurm job id/);
  });
});
