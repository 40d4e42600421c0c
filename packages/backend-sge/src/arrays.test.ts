import { describe, expect, it } from "vitest";
import { asJobId } from "@skein/core";
import { elementIdsOf, sgeArrays, splitJobId } from "./arrays.js";
import { parseQsubJobId } from "./qsub-parse.js";
import { readFileSync } from "node:fs";

const fixture = (name: string): string => readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url), "utf8");

describe("Grid Engine job arrays", () => {
  it("submits -t 1-N and names the output file after $TASK_ID", () => {
    expect(sgeArrays.submitArgs(3)).toEqual(["-t", "1-3"]);
    expect(sgeArrays.indexPlaceholder).toBe("$TASK_ID");
  });

  it("names elements job.task from what qsub -terse -t 1-3 printed (captured: 183.1-3:1)", () => {
    const id = parseQsubJobId(fixture("qsub-terse-array-3.txt"));
    expect(id).toBe("183");
    expect(elementIdsOf(id, 3)).toEqual(["183.1", "183.2", "183.3"]);
    expect(sgeArrays.elementIds(parseQsubJobId(fixture("qsub-array.txt")), 1)).toEqual(["184.1"]);
  });

  it("refuses an id that is not a job number", () => {
    expect(() => elementIdsOf(asJobId("12.1-3:1"), 3)).toThrow(/not the id of a Grid Engine job array/);
  });

  it("splits element ids into job and task", () => {
    expect(splitJobId("183.2")).toEqual({ job: "183", task: "2" });
    expect(splitJobId("15")).toEqual({ job: "15" });
  });
});
