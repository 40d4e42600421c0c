import { describe, expect, it } from "vitest";
import type { JobSpec } from "@skein/core";
import { formatSgeMemory, perSlotBytes, sgeDirectives, type SgeDirectiveOptions } from "./directives.js";

const job: JobSpec = {
  name: "exDaskCluster",
  workerProcesses: 12,
  threadsPerWorker: 1,
  cores: 12,
  memoryBytes: 32e9,
  walltimeSeconds: 20 * 60,
  schedulerAddress: "ws://10.1.2.3:40123",
  secret: "s",
  secretFile: "/home/me/.skein/clusters/x/secret",
  workerCommand: ["/usr/bin/node", "/bin.js"],
  workerArgs: [],
  env: {},
  prologue: [],
};
const defaults: SgeDirectiveOptions = { parallelEnvironment: "smp", memoryResource: "mem_free", jobExtraDirectives: [] };

describe("sgeDirectives", () => {
  it("writes name, PE, h_rt, memory per slot and -j y, in that order", () => {
    expect(sgeDirectives(job, defaults)).toEqual(["#$ -N exDaskCluster", "#$ -pe smp 12", "#$ -l h_rt=00:20:00", "#$ -l mem_free=2667m", "#$ -j y"]);
  });

  it("adds -S, -q, -P, -A and the extra directives last", () => {
    const lines = sgeDirectives(job, { ...defaults, shell: "/bin/tcsh", queue: "all.q", project: "p1", account: "acc", memoryResource: "h_vmem", jobExtraDirectives: ["-l gpu=1", "-m n"] });
    expect(lines).toEqual([
      "#$ -N exDaskCluster",
      "#$ -S /bin/tcsh",
      "#$ -q all.q",
      "#$ -P p1",
      "#$ -A acc",
      "#$ -pe smp 12",
      "#$ -l h_rt=00:20:00",
      "#$ -l h_vmem=2667m",
      "#$ -j y",
      "#$ -l gpu=1",
      "#$ -m n",
    ]);
  });

  it("asks for no PE for one core: the whole memory is the one slot's", () => {
    const lines = sgeDirectives({ ...job, cores: 1, memoryBytes: 4 * 2 ** 30 }, defaults);
    expect(lines).not.toContainEqual(expect.stringMatching(/-pe/));
    expect(lines).toContain("#$ -l mem_free=4G");
  });

  it("takes the PE name from the options", () => {
    expect(sgeDirectives({ ...job, cores: 4 }, { ...defaults, parallelEnvironment: "threads" })).toContain("#$ -pe threads 4");
  });

  it("resourceSpec replaces the memory request; memoryResource false drops it", () => {
    const spec = sgeDirectives(job, { ...defaults, resourceSpec: "h_vmem=4G,exclusive=true" });
    expect(spec).toContain("#$ -l h_vmem=4G,exclusive=true");
    expect(spec.join("\n")).not.toMatch(/mem_free/);
    expect(sgeDirectives(job, { ...defaults, memoryResource: false }).join("\n")).not.toMatch(/mem_free|h_vmem/);
    expect(sgeDirectives({ ...job, memoryBytes: undefined } as unknown as JobSpec, defaults).join("\n")).not.toMatch(/mem_free/);
  });

  it("names an output file with $JOB_ID in logDirectory (for scripts submitted by hand)", () => {
    expect(sgeDirectives({ ...job, logDirectory: "/scratch/logs" }, defaults)).toContain("#$ -o /scratch/logs/exDaskCluster-$JOB_ID.out");
  });

  it("names an array's output files after $JOB_ID and $TASK_ID, one per task", () => {
    expect(sgeDirectives({ ...job, logDirectory: "/scratch/logs", arraySize: 3 }, defaults)).toContain("#$ -o /scratch/logs/exDaskCluster-$JOB_ID.$TASK_ID.out");
  });

  it("writes no h_rt without a walltime", () => {
    const { walltimeSeconds: _, ...noWalltime } = job;
    expect(sgeDirectives(noWalltime, defaults).join("\n")).not.toMatch(/h_rt/);
  });
});

describe("formatSgeMemory (k m g = 1000^n, K M G = 1024^n)", () => {
  it.each([
    [32e9, "32g"],
    [32 * 2 ** 30, "32G"],
    [512 * 2 ** 20, "512M"],
    [1500e6, "1500m"],
    [2 ** 30 + 1, "1074m"],
    [1, "1m"],
    // 32 GB over 12 slots: 2666666667 bytes, rounded up to 2667m (12 × 2667m ≥ 32g)
    [perSlotBytes(32e9, 12), "2667m"],
    [perSlotBytes(32 * 2 ** 30, 8), "4G"],
    [perSlotBytes(10e9, 4), "2500m"],
  ])("%d bytes → %s", (bytes, text) => {
    expect(formatSgeMemory(bytes)).toBe(text);
  });

  it("never asks for less than given", () => {
    const parse = (text: string) => Number(text.slice(0, -1)) * { k: 1e3, K: 1024, m: 1e6, M: 2 ** 20, g: 1e9, G: 2 ** 30 }[text.slice(-1) as "k"];
    for (const bytes of [1, 999_999, 1_000_001, 3e9 / 7, 2 ** 31 - 1, 1e12 / 3]) {
      const whole = Math.ceil(bytes);
      expect(parse(formatSgeMemory(whole))).toBeGreaterThanOrEqual(whole);
    }
  });
});
