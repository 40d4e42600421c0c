import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { JobSpec } from "@skein/core";
import { sgeJobScript, shellOfShebang } from "./job-script.js";

const dir = mkdtempSync(join(tmpdir(), "skein-sge-script-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const job: JobSpec = {
  name: "exDaskCluster",
  workerProcesses: 2,
  threadsPerWorker: 1,
  cores: 2,
  memoryBytes: 4e9,
  walltimeSeconds: 3600,
  schedulerAddress: "ws://10.1.2.3:40123",
  secret: "never-in-the-script",
  secretFile: "/home/me/.skein/clusters/x/secret",
  workerCommand: ["/bin/echo"],
  workerArgs: ["ws://10.1.2.3:40123", "--nworkers", "2", "--name", "exDaskCluster-0"],
  env: { A: "x y!", SKEIN_SECRET_FILE: "/elsewhere" },
  prologue: ["echo prologue"],
  logDirectory: "/tmp",
};
const options = { parallelEnvironment: "smp", memoryResource: "mem_free" as const, jobExtraDirectives: [] };

function save(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o700 });
  return path;
}

describe("sgeJobScript", () => {
  const text = sgeJobScript(job, { ...options, queue: "all.q", shebang: "#!/bin/tcsh" });

  it("has the shebang, #$ lines (with -S from the shebang), then the worker; never the secret", () => {
    const lines = text.split("\n");
    expect(lines.slice(0, 9)).toEqual([
      "#!/bin/tcsh",
      "#$ -N exDaskCluster",
      "#$ -S /bin/tcsh",
      "#$ -q all.q",
      "#$ -pe smp 2",
      "#$ -l h_rt=01:00:00",
      "#$ -l mem_free=2g",
      "#$ -j y",
      "#$ -o /tmp/exDaskCluster-$JOB_ID.out",
    ]);
    expect(text).not.toContain("never-in-the-script");
    // The body uses no variables: tcsh stops at an undefined one, and sh would expand $JOB_ID.
    expect(text.split("\n").filter((l) => !l.startsWith("#"))).not.toContainEqual(expect.stringMatching(/\$|\bexport\b/));
  });

  it("points SKEIN_SECRET_FILE at the cluster's secret file, whatever env says", () => {
    expect(text).toContain("SKEIN_SECRET_FILE=/home/me/.skein/clusters/x/secret");
    expect(text).not.toContain("/elsewhere");
  });

  it("defaults to #!/usr/bin/env bash, without -S", () => {
    const plain = sgeJobScript(job, options);
    expect(plain.split("\n")[0]).toBe("#!/usr/bin/env bash");
    expect(plain).not.toMatch(/^#\$ -S/m);
    expect(sgeJobScript(job, { ...options, shell: "/bin/bash" })).toMatch(/^#\$ -S \/bin\/bash$/m);
  });

  it.each(["tcsh", "sh", "bash"])("passes %s -n and runs under it with /bin/echo as the worker", (shell) => {
    const path = save(`run-${shell}`, text);
    expect(spawnSync(shell, ["-n", path], { encoding: "utf8" })).toMatchObject({ status: 0, stderr: "" });
    const result = spawnSync(shell, [path], { encoding: "utf8", env: { PATH: "/usr/bin:/bin" } });
    expect([result.status, result.stderr, result.stdout]).toEqual([0, "", `prologue\n${job.workerArgs.join(" ")}\n`]);
  });
});

describe("sgeJobScript of a job array", () => {
  const array = sgeJobScript({ ...job, arraySize: 3 }, options);

  it("has the worker name its workers after SGE_TASK_ID (--name-env); no -t in the script (qsub gets it)", () => {
    expect(array.trimEnd().split("\n").at(-1)).toMatch(/ --name exDaskCluster-0 --name-env SGE_TASK_ID$/);
    expect(array).not.toMatch(/^#\$ -t/m);
    expect(sgeJobScript(job, options)).not.toContain("--name-env");
  });

  it.each(["tcsh", "sh", "bash"])("passes %s -n", (shell) => {
    expect(spawnSync(shell, ["-n", save(`array-${shell}`, array)], { encoding: "utf8" })).toMatchObject({ status: 0, stderr: "" });
  });
});

describe("shellOfShebang", () => {
  it.each([
    ["#!/bin/tcsh", "/bin/tcsh"],
    ["#!/bin/bash", "/bin/bash"],
    ["#! /bin/sh", "/bin/sh"],
    ["#!/usr/bin/env bash", undefined],
    ["#!/bin/bash -l", undefined],
    ["#!bash", undefined],
  ])("%s → %s", (shebang, shell) => {
    expect(shellOfShebang(shebang)).toBe(shell);
  });
});
