import { describe, expect, it } from "vitest";
import { parseBytes, type JobSpec } from "@skein/core";
import { formatSlurmMemory, slurmDirectives } from "./directives.js";

const job = (overrides: Partial<JobSpec> = {}): JobSpec => ({
  name: "exDaskCluster",
  workerProcesses: 12,
  threadsPerWorker: 1,
  cores: 12,
  memoryBytes: parseBytes("32GB"),
  walltimeSeconds: 20 * 60,
  schedulerAddress: "ws://10.0.0.1:8786",
  secret: "s",
  workerCommand: ["/usr/bin/node", "/opt/bin.js"],
  workerArgs: [],
  env: {},
  prologue: [],
  ...overrides,
});

describe("formatSlurmMemory (Slurm's M is 2^20 bytes)", () => {
  it.each([
    ["32GB", "30518M"], // 32·10^9 / 2^20 = 30517.58…, rounded up
    ["32GiB", "32768M"],
    ["1MiB", "1M"],
    ["1MB", "1M"],
    [1, "1M"],
    [2 ** 20 + 1, "2M"],
  ] as const)("%s → %s", (memory, expected) => {
    expect(formatSlurmMemory(parseBytes(memory))).toBe(expected);
  });
});

describe("slurmDirectives", () => {
  it("name, one task with the job's cores, memory, time, partition, account, extras last", () => {
    expect(slurmDirectives(job(), { partition: "batch", account: "proj1", jobExtraDirectives: ["--constraint=c18a", "--exclusive"] })).toEqual([
      "#SBATCH --job-name=exDaskCluster",
      "#SBATCH --ntasks=1",
      "#SBATCH --cpus-per-task=12",
      "#SBATCH --mem=30518M",
      "#SBATCH --time=00:20:00",
      "#SBATCH --partition=batch",
      "#SBATCH --account=proj1",
      "#SBATCH --constraint=c18a",
      "#SBATCH --exclusive",
    ]);
  });

  it("only what was asked for; --output with %j in logDirectory", () => {
    const { memoryBytes: _m, walltimeSeconds: _w, ...bare } = job({ logDirectory: "/scratch/logs" });
    expect(slurmDirectives(bare, { jobExtraDirectives: [] })).toEqual([
      "#SBATCH --job-name=exDaskCluster",
      "#SBATCH --ntasks=1",
      "#SBATCH --cpus-per-task=12",
      "#SBATCH --output=/scratch/logs/exDaskCluster-%j.out",
    ]);
  });
});

describe("jobs on several nodes and job arrays", () => {
  it("ask for N nodes with one task of all of a node's cores on each; --mem is per node", () => {
    expect(slurmDirectives(job({ nodes: 2 }), { jobExtraDirectives: [] }).slice(0, 5)).toEqual([
      "#SBATCH --job-name=exDaskCluster",
      "#SBATCH --nodes=2",
      "#SBATCH --ntasks-per-node=1",
      "#SBATCH --cpus-per-task=12",
      "#SBATCH --mem=30518M",
    ]);
  });

  it("name one output file per array element in logDirectory (for a script submitted by hand)", () => {
    expect(slurmDirectives(job({ arraySize: 3, logDirectory: "/logs" }), { jobExtraDirectives: [] })).toContain("#SBATCH --output=/logs/exDaskCluster-%A.%a.out");
  });
});
