import { describe, expect, it } from "vitest";
import { parseBytes, type JobSpec } from "@skein/core";
import { formatPbsMemory, nodesInResourceSpec, pbsDirectives, type PbsDirectiveOptions } from "./directives.js";

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
const torque: PbsDirectiveOptions = { flavor: "torque", jobExtraDirectives: [] };

describe("formatPbsMemory (PBS kb/mb/gb are powers of 1024)", () => {
  it.each([
    ["32GiB", "32gb"],
    ["32GB", "31250000kb"], // 32·10^9 bytes is not a whole number of mb: exact in kb
    ["1.5GiB", "1536mb"],
    ["2TiB", "2tb"],
    ["1000MiB", "1000mb"],
    ["1MB", "977kb"], // 10^6 / 1024 = 976.56…, rounded up
    [1, "1kb"],
    [1024, "1kb"],
    [1025, "2kb"],
  ] as const)("%s → %s", (memory, expected) => {
    expect(formatPbsMemory(parseBytes(memory))).toBe(expected);
  });

  it("never asks for less than requested", () => {
    for (const bytes of [1, 999, 1023, 10 ** 6, 32e9, 12_345_678_901, 2 ** 40 + 1]) {
      const text = formatPbsMemory(bytes);
      const [, n, unit] = /^(\d+)(kb|mb|gb|tb)$/.exec(text) ?? [];
      const size = { kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 }[unit as "kb"];
      expect(Number(n) * size).toBeGreaterThanOrEqual(bytes);
      expect(Number(n) * size - bytes).toBeLessThan(1024);
    }
  });
});

describe("pbsDirectives", () => {
  it("Torque: name, nodes/ppn from cores, mem, walltime, -j oe", () => {
    expect(pbsDirectives(job(), torque)).toEqual([
      "#PBS -N exDaskCluster",
      "#PBS -l nodes=1:ppn=12",
      "#PBS -l mem=31250000kb",
      "#PBS -l walltime=00:20:00",
      "#PBS -j oe",
    ]);
  });

  it("PBS Pro: one select statement with ncpus and mem", () => {
    expect(pbsDirectives(job(), { ...torque, flavor: "pbspro" })).toEqual([
      "#PBS -N exDaskCluster",
      "#PBS -l select=1:ncpus=12:mem=31250000kb",
      "#PBS -l walltime=00:20:00",
      "#PBS -j oe",
    ]);
  });

  it("the reference scenario: resourceSpec verbatim replaces the derived request; queue, account and extras in place", () => {
    const lines = pbsDirectives(job(), { ...torque, resourceSpec: "nodes=1:c18a:ppn=12", queue: "batch", account: "proj1", jobExtraDirectives: ["-m abe", "-l feature=fast"] });
    expect(lines).toEqual([
      "#PBS -N exDaskCluster",
      "#PBS -q batch",
      "#PBS -A proj1",
      "#PBS -l nodes=1:c18a:ppn=12",
      "#PBS -l walltime=00:20:00",
      "#PBS -j oe",
      "#PBS -m abe",
      "#PBS -l feature=fast",
    ]);
  });

  it("leaves out mem and walltime when they were not asked for; walltime may pass 24 hours", () => {
    const { memoryBytes: _m, walltimeSeconds: _w, ...bare } = job();
    expect(pbsDirectives(bare, torque)).toEqual(["#PBS -N exDaskCluster", "#PBS -l nodes=1:ppn=12", "#PBS -j oe"]);
    expect(pbsDirectives(job({ walltimeSeconds: 50 * 3600 + 61 }), torque)).toContain("#PBS -l walltime=50:01:01");
  });
});

describe("jobs on several nodes", () => {
  it("Torque: nodes=N:ppn=cores per node, mem for the whole job", () => {
    expect(pbsDirectives(job({ nodes: 2, memoryBytes: parseBytes("32GiB") }), torque).slice(1, 3)).toEqual(["#PBS -l nodes=2:ppn=12", "#PBS -l mem=64gb"]);
  });

  it("PBS Pro: N chunks of ncpus and mem, scattered over hosts", () => {
    expect(pbsDirectives(job({ nodes: 2, memoryBytes: parseBytes("32GiB") }), { ...torque, flavor: "pbspro" }).slice(1, 3)).toEqual(["#PBS -l select=2:ncpus=12:mem=32gb", "#PBS -l place=scatter"]);
  });

  it.each([
    ["nodes=2:ppn=12", 2],
    ["nodes=1:c18a:ppn=12", 1],
    ["nodes=2:ppn=12+1:ppn=4", 3],
    ["nodes=node01:ppn=4+node02:ppn=4", 2],
    ["nodes=4:ppn=12,walltime=01:00:00", 4],
    ["walltime=01:00:00,nodes=3", 3],
    ["select=2:ncpus=12:mem=32gb", 2],
    ["select=ncpus=4", 1],
    ["mem=32gb", undefined],
  ] as const)("%s asks for %s nodes", (spec, nodes) => {
    expect(nodesInResourceSpec(spec)).toBe(nodes);
  });
});
