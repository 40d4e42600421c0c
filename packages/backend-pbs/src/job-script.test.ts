import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseBytes, type JobSpec } from "@skein/core";
import { pbsJobScript } from "./job-script.js";

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
