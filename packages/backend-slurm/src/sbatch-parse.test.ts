import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseSbatchJobId } from "./sbatch-parse.js";

const fixture = (name: string): string =>
  readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url), "utf8");

describe("parseSbatchJobId", () => {
  it.each([
    // captured on the test cluster
    { source: "sbatch-parsable.txt", id: "11" },
    { source: "sbatch-parsable-array.txt", id: "13" },
    { source: "sbatch.txt", id: "12" },
    // hand-written: naming a cluster needs slurmdbd, which the test cluster does not run
    { source: "sbatch-parsable-cluster.txt", id: "8" },
    { source: "sbatch-cluster.txt", id: "9" },
  ])("reads $id from $source", ({ source, id }) => {
    expect(parseSbatchJobId(fixture(source))).toBe(id);
  });

  it.each([
    { output: "8", id: "8" },
    { output: " 8 \r\n", id: "8" },
    { output: "\nSubmitted batch job 123456\n\n", id: "123456" },
  ])("reads $id from $output", ({ output, id }) => {
    expect(parseSbatchJobId(output)).toBe(id);
  });

  it("rejects a failed submission (empty stdout, captured) and shows the expected forms", () => {
    const failed = JSON.parse(fixture("sbatch-error.json")) as { stdout: string; exitCode: number };
    expect(failed.exitCode).toBe(1);
    expect(() => parseSbatchJobId(failed.stdout)).toThrow(
      /expected sbatch to print one job id as "8" or "8;cluster" .* or "Submitted batch job 8" .* found no job id in its output: ""/
    );
  });

  it.each([
    { case: "garbage", output: "sbatch: error: Batch job submission failed\n" },
    { case: "a truncated line", output: "Submitted batch job\n" },
    { case: "an id with junk", output: "8x\n" },
    { case: "an empty cluster name", output: "8;\n" },
    { case: "an array element id", output: "8_1\n" },
  ])("throws on $case", ({ output }) => {
    expect(() => parseSbatchJobId(output)).toThrow(/found no job id/);
  });

  it("throws rather than guess between two ids", () => {
    expect(() => parseSbatchJobId("8\nSubmitted batch job 9\n")).toThrow(/2 job ids \(8, 9\)/);
  });
});
