import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseQdelOutput, qdelSettled } from "./qdel-parse.js";

interface Capture {
  command: string;
  stdout: string;
  stderr: string;
  exitCode: number;
}
const capture = (name: string): Capture => JSON.parse(readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url), "utf8")) as Capture;
const outcomes = (name: string) => Object.fromEntries(parseQdelOutput(capture(name).stdout));

// qdel prints its verdicts, errors included, on stdout, and exits 1 when any id does not exist.
describe("parseQdelOutput on captured output", () => {
  it("a running array task, a pending job and an unknown id", () => {
    const c = capture("qdel-running-pending-unknown.json");
    expect([c.exitCode, c.stderr]).toEqual([1, ""]);
    expect(outcomes("qdel-running-pending-unknown.json")).toEqual({ "13": "deleting", "13.2": "deleting", "9": "deleted", "99999": "gone" });
  });

  it("the same jobs again: one still being deleted (state dr), one gone", () => {
    expect(outcomes("qdel-again.json")).toEqual({ "13": "deleting", "9": "gone" });
  });

  it("a job already in deletion and a pending one (exit 0)", () => {
    expect(capture("qdel-already-in-deletion.json").exitCode).toBe(0);
    expect(outcomes("qdel-already-in-deletion.json")).toEqual({ "14": "deleting", "7": "deleted" });
  });

  it("an unknown id alone, and a word that is not an id", () => {
    expect(outcomes("qdel-unknown.json")).toEqual({ "99999": "gone" });
    expect(outcomes("qdel-not-a-number.json")).toEqual({});
  });
});

// Job arrays: elements are named job.task (see arrays.ts).
describe("parseQdelOutput on captured output of job arrays", () => {
  it("a running task, a pending task, a task and a job that do not exist", () => {
    const c = capture("qdel-array-tasks.json");
    expect([c.command, c.exitCode, c.stderr]).toEqual(["qdel 183.2 184.3 184.9 99999.1", 1, ""]);
    // A missing task (184.9) says nothing about its array, which exists.
    expect(outcomes("qdel-array-tasks.json")).toEqual({ "183.2": "deleting", "183": "deleting", "184.3": "deleted", "184": "deleted", "184.9": "gone", "99999": "gone" });
  });

  it("the same tasks again: one still being deleted (named by its job only), one gone", () => {
    expect(outcomes("qdel-array-task-in-deletion.json")).toEqual({ "183": "deleting", "184.3": "gone" });
  });

  it("whole arrays: pending ones are deleted as jobs, a running one task by task", () => {
    expect(outcomes("qdel-arrays-pending.json")).toEqual({ "184": "deleted", "185": "deleted", "186": "deleted" });
    expect(capture("qdel-array-running.json").exitCode).toBe(0);
    expect(outcomes("qdel-array-running.json")).toEqual({ "187.1": "deleting", "187.2": "deleting", "187": "deleting" });
  });
});

describe("qdelSettled", () => {
  it("settles array tasks by their own verdict or by a verdict on their whole job", () => {
    expect(qdelSettled(capture("qdel-array-tasks.json").stdout, ["183.2", "184.3", "184.9", "99999.1"])).toBe(true);
    expect(qdelSettled(capture("qdel-array-task-in-deletion.json").stdout, ["183.2", "184.3"])).toBe(true);
    expect(qdelSettled(capture("qdel-array-running.json").stdout, ["187"])).toBe(true);
    // A task of another job, or one qdel did not mention, is not settled.
    expect(qdelSettled(capture("qdel-array-task-in-deletion.json").stdout, ["183.2", "185.1"])).toBe(false);
    expect(qdelSettled(capture("qdel-array-tasks.json").stdout, ["184.4"])).toBe(false);
  });

  it("is true only when every asked id has a verdict", () => {
    const { stdout } = capture("qdel-running-pending-unknown.json");
    expect(qdelSettled(stdout, ["13", "9", "99999"])).toBe(true);
    expect(qdelSettled(stdout, ["13", "9", "99999", "42"])).toBe(false);
    expect(qdelSettled(capture("qdel-not-a-number.json").stdout, ["foo"])).toBe(false);
    expect(qdelSettled("", [])).toBe(false);
  });

  it("is false for qdel's failures that are not verdicts", () => {
    const down = 'error: commlib error: got select error (Connection refused)\nunable to send message to qmaster using port 6444 on host "vm": got send error\n';
    expect(qdelSettled(down, ["5"])).toBe(false);
  });
});
