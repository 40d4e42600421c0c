import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseQsubJobId } from "./qsub-parse.js";

const fixture = (name: string): string => readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url), "utf8");

describe("parseQsubJobId", () => {
  it.each([
    ["qsub-terse.txt", "15"],
    ["qsub-terse-array.txt", "13"],
    ["qsub.txt", "16"],
    ["qsub-terse-array-3.txt", "183"],
    ["qsub-array.txt", "184"],
  ])("reads %s → %s", (name, id) => {
    expect(parseQsubJobId(fixture(name))).toBe(id);
  });

  it("reads a plain job-array line", () => {
    expect(parseQsubJobId('Your job-array 13.1-4:1 ("harr") has been submitted\n')).toBe("13");
    // What qsub -terse -t 2-10:3 (tasks 2, 5, 8) printed on the test cluster.
    expect(parseQsubJobId("180.2-10:3\n")).toBe("180");
  });

  it.each([
    ["", /found no job id/],
    ["Unable to run job: error: no suitable queues\nExiting.\n", /found no job id/],
    ["15\n16\n", /found 2 job ids \(15, 16\)/],
  ])("refuses %j", (stdout, message) => {
    expect(() => parseQsubJobId(stdout)).toThrow(message);
  });
});
