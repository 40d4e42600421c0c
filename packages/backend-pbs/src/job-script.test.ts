import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseBytes, type JobSpec } from "@skein/core";
import { elementIdsOf } from "./arrays.js";
import { pbsJobScript } from "./job-script.js";
import { parseSqueueStates } from "./slurm-wrapper-elements.js";
import { asJobId } from "@skein/core";

const dir = mkdtempSync(join(tmpdir(), "skein-pbs-script-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const job = (overrides: Partial<JobSpec> = {}): JobSpec => ({
  name: "exDaskCluster",
  workerProcesses: 12,
  threadsPerWorker: 1,
  cores: 12,
  memoryBytes: parseBytes("32GB"),
  memoryPerWorkerBytes: parseBytes("32GB") / 12,
  walltimeSeconds: 20 * 60,
  schedulerAddress: "ws://10.1.2.3:40123",
  secret: "never-in-the-script",
  secretFile: "/home/me/.skein/clusters/exDaskCluster-1a2b3c4d/secret",
  workerCommand: ["/usr/bin/node", "/home/me/app/node_modules/@skein/worker/dist/bin.js"],
  workerArgs: ["ws://10.1.2.3:40123", "--nworkers", "12", "--nthreads", "1", "--name", "exDaskCluster-0", "--interface", "ib0"],
  env: { SKEIN_LOCAL_DIRECTORY: "/scratch/me" },
  prologue: ["module load node"],
  ...overrides,
});
const reference = { flavor: "torque", resourceSpec: "nodes=1:c18a:ppn=12", jobExtraDirectives: [], shebang: "#!/bin/tcsh" } as const;

function save(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o700 });
  return path;
}

describe("pbsJobScript", () => {
  it("is the reference scenario's script, exactly", () => {
    expect(pbsJobScript(job(), reference)).toBe(
      [
        "#!/bin/tcsh",
        "#PBS -N exDaskCluster",
        "#PBS -l nodes=1:c18a:ppn=12",
        "#PBS -l walltime=00:20:00",
        "#PBS -j oe",
        "# Skein job for cluster exDaskCluster. The worker reads the cluster secret from the file in SKEIN_SECRET_FILE.",
        "module load node",
        "exec env SKEIN_SECRET_FILE=/home/me/.skein/clusters/exDaskCluster-1a2b3c4d/secret SKEIN_LOCAL_DIRECTORY=/scratch/me /usr/bin/node /home/me/app/node_modules/@skein/worker/dist/bin.js ws://10.1.2.3:40123 --nworkers 12 --nthreads 1 --name exDaskCluster-0 --interface ib0",
        "",
      ].join("\n"),
    );
  });

  it("defaults to bash and never writes the secret, export, or $PBS_ variables", () => {
    const text = pbsJobScript(job(), { flavor: "torque", jobExtraDirectives: [] });
    expect(text.split("\n")[0]).toBe("#!/usr/bin/env bash");
    expect(text).not.toContain("never-in-the-script");
    expect(text).not.toMatch(/\bexport\b|\$PBS_|\$\{|\[\[/);
  });

  it.each(["tcsh", "sh"])("passes %s -n", (shell) => {
    const result = spawnSync(shell, ["-n", save(`syntax-${shell}`, pbsJobScript(job({ env: { A: "x y", B: "it's!" } }), reference))], { encoding: "utf8" });
    expect([result.status, result.stderr]).toEqual([0, ""]);
  });

  it("runs under tcsh with /bin/echo as the worker: prologue first, every word intact", () => {
    const text = pbsJobScript(job({ workerCommand: ["/bin/echo"], prologue: ["echo prologue: $shell"], env: { A: "x y" } }), reference);
    const result = spawnSync("tcsh", [save("run.csh", text)], { encoding: "utf8", env: { PATH: "/usr/bin:/bin", HOME: dir } });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(`prologue: /bin/tcsh\n${job().workerArgs.join(" ")}\n`);
  });
});

describe("job arrays and jobs on several nodes", () => {
  const last = (text: string) => text.trimEnd().split("\n").at(-1) ?? "";

  it("an array element names its workers after PBS_ARRAYID (Torque), else SLURM_ARRAY_TASK_ID (the wrappers)", () => {
    expect(last(pbsJobScript(job({ arraySize: 4 }), reference))).toMatch(/ --name exDaskCluster-0 --interface ib0 --name-env PBS_ARRAYID,SLURM_ARRAY_TASK_ID$/);
    expect(last(pbsJobScript(job({ arraySize: 4 }), { ...reference, flavor: "pbspro" }))).toMatch(/ --name-env PBS_ARRAY_INDEX,SLURM_ARRAY_TASK_ID$/);
  });

  it("a job on two nodes starts a supervisor on each with pbsdsh -u, else srun, and numbers the nodes", () => {
    const line = last(pbsJobScript(job({ nodes: 2, arraySize: 2 }), { ...reference, resourceSpec: "nodes=2:ppn=12" }));
    expect(line).toBe(
      "exec sh -c 'if command -v pbsdsh >/dev/null 2>&1; then exec pbsdsh -u \"$@\"; fi; exec srun --nodes=2 --ntasks=2 --ntasks-per-node=1 --cpus-per-task=12 \"$@\"' skein-nodes " +
        "/usr/bin/env SKEIN_SECRET_FILE=/home/me/.skein/clusters/exDaskCluster-1a2b3c4d/secret SKEIN_LOCAL_DIRECTORY=/scratch/me /usr/bin/node /home/me/app/node_modules/@skein/worker/dist/bin.js " +
        "ws://10.1.2.3:40123 --nworkers 12 --nthreads 1 --name exDaskCluster-0 --interface ib0 --name-env PBS_ARRAYID,SLURM_ARRAY_TASK_ID --name-env PBS_NODENUM,SLURM_NODEID",
    );
    expect(pbsJobScript(job({ nodes: 2 }), { ...reference, flavor: "pbspro" })).toContain("exec pbsdsh -- ");
  });

  it.each(["tcsh", "sh"])("array and multi-node scripts pass %s -n", (shell) => {
    for (const [i, spec] of [job({ arraySize: 3 }), job({ nodes: 2 }), job({ nodes: 2, arraySize: 3, env: { A: "it's!" } })].entries()) {
      const result = spawnSync(shell, ["-n", save(`syntax-extra-${shell}-${i}`, pbsJobScript(spec, reference))], { encoding: "utf8" });
      expect([result.status, result.stderr]).toEqual([0, ""]);
    }
  });

  it("runs the multi-node line under tcsh: without pbsdsh it falls back to srun, every word intact", () => {
    // A fake srun on the PATH prints its own arguments, then runs the rest once.
    const bin = join(dir, "fake-bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "srun"), '#!/bin/sh\necho "srun $1 $2 $3 $4"\nshift 4\nexec "$@"\n', { mode: 0o700 });
    const text = pbsJobScript(job({ nodes: 2, workerCommand: ["/bin/echo"], prologue: [], env: { A: "x y" } }), reference);
    const result = spawnSync("tcsh", [save("multinode.csh", text)], { encoding: "utf8", env: { PATH: `${bin}:/usr/bin:/bin`, HOME: dir } });
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe(`srun --nodes=2 --ntasks=2 --ntasks-per-node=1 --cpus-per-task=12\n${job().workerArgs.join(" ")} --name-env PBS_NODENUM,SLURM_NODEID\n`);
  });
});

describe("array element ids", () => {
  it.each([
    ["12[].server.example.edu", ["12[1].server.example.edu", "12[2].server.example.edu"]],
    ["12[]", ["12[1]", "12[2]"]],
    ["12", ["12_1", "12_2"]],
  ])("%s → %j", (id, elements) => {
    expect(elementIdsOf(asJobId(id), 2)).toEqual(elements);
  });

  it("refuses an id that is not an array's", () => {
    expect(() => elementIdsOf(asJobId("12.server"), 2)).toThrow(/not the id of a job array/);
  });

  it("reads squeue's element lines (Slurm's Torque wrappers)", () => {
    expect(parseSqueueStates("765_1 RUNNING c18a\n765_2 PENDING (Resources)\n765_3 CANCELLED \n765_4 COMPLETED vortex\n")).toEqual(
      new Map([
        ["765_1", { state: "running", host: "c18a" }],
        ["765_2", { state: "queued", reason: "Resources" }],
        ["765_3", { state: "exited", exitCode: null, reason: "CANCELLED" }],
        ["765_4", { state: "exited", exitCode: null, reason: "COMPLETED" }],
      ]),
    );
  });
});
