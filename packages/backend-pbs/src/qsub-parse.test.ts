import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseQsubJobId } from "./qsub-parse.js";

const fixture = (name: string): string =>
  readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url), "utf8");

describe("parseQsubJobId", () => {
  it.each([
    // captured from the Slurm Torque wrapper on the test cluster
    { source: "wrapper-qsub.txt", id: "20" },
    { source: "wrapper-qsub-array.txt", id: "21" },
    // hand-written after shared/docs/test-cluster.md
    { source: "torque-qsub.txt", id: "1234.server.example.edu" },
    { source: "torque-qsub-array.txt", id: "1246[].server.example.edu" },
    { source: "pbspro-qsub.txt", id: "1234.pbsserver" },
    { source: "pbspro-qsub-array.txt", id: "1242[].pbsserver" },
  ])("reads $id from $source", ({ source, id }) => {
    expect(parseQsubJobId(fixture(source))).toBe(id);
  });

  it.each([
    { output: "3", id: "3" },
    { output: "  3  \r\n", id: "3" },
    { output: "12[]\n", id: "12[]" },
    { output: "\n\n1234.server-01.example.edu\n\n", id: "1234.server-01.example.edu" },
    { output: "qsub: waiting for job 7 to start\n7.pbsserver\n", id: "7.pbsserver" },
  ])("reads $id from $output", ({ output, id }) => {
    expect(parseQsubJobId(output)).toBe(id);
  });

  it("rejects the wrapper's sbatch failure text and shows it in the error", () => {
    const output = fixture("wrapper-qsub-error.txt");
    expect(() => parseQsubJobId(output)).toThrow(/expected qsub to print one job id/);
    expect(() => parseQsubJobId(output)).toThrow(/There was an error running the Slurm sbatch command/);
    expect(() => parseQsubJobId(output)).toThrow(/Memory specification can not be satisfied/);
  });

  it.each([
    { case: "empty output", output: "" },
    { case: "blank lines", output: "\n  \n" },
    { case: "garbage", output: "hello world\n" },
    { case: "an id with trailing text", output: "1234.server extra\n" },
    { case: "a dot without a server", output: "1234.\n" },
    { case: "a negative number", output: "-3\n" },
  ])("throws on $case", ({ output }) => {
    expect(() => parseQsubJobId(output)).toThrow(/no job id/);
  });

  it("throws when two lines look like ids rather than guessing", () => {
    expect(() => parseQsubJobId("12\n13\n")).toThrow(/2 lines that look like job ids \(12, 13\)/);
  });

  it("names the expected pattern in the error", () => {
    expect(() => parseQsubJobId("nope")).toThrow(/pattern \/\^\\d\+/);
  });
});
