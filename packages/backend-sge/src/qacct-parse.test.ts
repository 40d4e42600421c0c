import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { isQacctNotFound, parseQacct } from "./qacct-parse.js";

const fixture = (name: string): string => readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url), "utf8");

describe("parseQacct on captured output", () => {
  it.each([
    ["qacct-exit-0.txt", { jobnumber: "15", jobname: "quick", failed: 0, failedReason: "", exitStatus: 0 }],
    ["qacct-exit-3.txt", { jobnumber: "20", jobname: "failing", failed: 0, failedReason: "", exitStatus: 3 }],
    ["qacct-qdel.txt", { jobnumber: "21", jobname: "killed", failed: 100, failedReason: "assumedly after job", exitStatus: 137 }],
    ["qacct-h_rt.txt", { jobnumber: "22", jobname: "walltime", failed: 37, failedReason: "qmaster enforced h_rt, h_cpu, or h_vmem limit", exitStatus: 137 }],
  ])("%s", (name, expected) => {
    const records = parseQacct(fixture(name));
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ ...expected, taskid: "undefined" });
    expect(Number.isFinite(records[0]?.submittedAt)).toBe(true);
  });

  it("qacct-array.txt: one record per task of an array, with its taskid, in the order the tasks ended", () => {
    expect(parseQacct(fixture("qacct-array.txt")).map((r) => [r.jobnumber, r.taskid, r.failed, r.exitStatus])).toEqual([
      ["183", "2", 100, 137],
      ["183", "1", 0, 0],
      ["183", "3", 0, 3],
    ]);
  });

  it("reads qsub_time as local time", () => {
    expect(parseQacct(fixture("qacct-h_rt.txt"))[0]?.submittedAt).toBe(new Date(2026, 10, 25, 18, 2, 11).getTime());
  });

  it("returns every record of a reused id, oldest first", () => {
    const text = fixture("qacct-exit-3.txt") + fixture("qacct-h_rt.txt").replace(/^jobnumber\s+22/m, "jobnumber    20");
    expect(parseQacct(text).map((r) => [r.jobnumber, r.failed])).toEqual([["20", 0], ["20", 37]]);
  });

  it("reads nothing from nothing, and knows qacct's not-found answer", () => {
    const notFound = JSON.parse(fixture("qacct-unknown.json")) as { stderr: string; exitCode: number };
    expect(parseQacct("")).toEqual([]);
    expect(isQacctNotFound(notFound.stderr, notFound.exitCode)).toBe(true);
    expect(isQacctNotFound("error: unable to open accounting file\n", 1)).toBe(false);
  });

  it("refuses a record without failed or exit_status", () => {
    expect(() => parseQacct("==============================================================\njobnumber 5\n")).toThrow(/no readable "failed" or "exit_status"/);
  });
});
