import { readFileSync } from "node:fs";
import type { JobState } from "@skein/core";
import { describe, expect, it } from "vitest";
import { SQUEUE_ARGS, SQUEUE_FORMAT, isInvalidJobIdError, parseSqueue } from "./squeue-parse.js";

const fixture = (name: string): string =>
  readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url), "utf8");

interface CommandCapture {
  stdout: string;
  stderr: string;
  exitCode: number;
}
const capture = (name: string): CommandCapture => JSON.parse(fixture(name)) as CommandCapture;

const parsed = (stdout: string): Record<string, JobState> => Object.fromEntries(parseSqueue(stdout));

const pending = (reason: string): JobState => ({ state: "queued", reason });
const running = (host: string): JobState => ({ state: "running", host });
const exited = (reason: string): JobState => ({ state: "exited", exitCode: null, reason });

// All captured on the test cluster with `squeue -h [-r] [-t all] -o "%i %T %R"`.
describe("parseSqueue on captured output", () => {
  const pendingAndRunning = {
    "3": pending("Resources"),
    "6_4": pending("Resources"),
    "1": running("c18a"),
    "2": running("vortex"),
    "6_3": running("c18a"),
    "6_1": running("c18a"),
    "6_2": running("c18a"),
  };
  const pendingReasons = {
    ...pendingAndRunning,
    "11": pending(
      "Nodes required for job are DOWN, DRAINED or reserved for jobs in higher priority partitions"
    ),
    "12": pending("Priority"),
    "13_1": pending("Priority"),
    "13_2": pending("Priority"),
    "13_3": pending("Priority"),
    "14": pending("Dependency"),
    "17": pending("Priority"),
    "16": pending("JobHeldUser"),
    "15": pending("JobHeldUser"),
  };

  it.each<{ source: string; expected: Record<string, JobState> }>([
    { source: "squeue-pending-running-array.txt", expected: pendingAndRunning },
    { source: "squeue-r-pending-running-array.txt", expected: pendingAndRunning },
    // without -r the pending elements of array 13 come as one line, 13_[1-3]
    { source: "squeue-pending-reasons.txt", expected: pendingReasons },
    { source: "squeue-r-pending-reasons.txt", expected: pendingReasons },
    { source: "squeue-two-nodes.txt", expected: { "19": running("c18a") } },
    { source: "squeue-completing.txt", expected: { "25": running("c18a") } },
    {
      source: "squeue-t-all.txt",
      expected: {
        ...pendingAndRunning,
        "4": exited("COMPLETED"),
        "5": exited("FAILED (NonZeroExitCode)"),
        "7": exited("FAILED (BadConstraints)"),
      },
    },
  ])("$source", ({ source, expected }) => {
    expect(parsed(fixture(source))).toEqual(expected);
  });

  it("reads finished states, including DEADLINE, from squeue-t-all-finished.txt", () => {
    const jobs = parseSqueue(fixture("squeue-t-all-finished.txt"));
    expect(jobs.get("4")).toEqual(exited("COMPLETED"));
    expect(jobs.get("17")).toEqual(exited("DEADLINE (DeadLine)"));
    expect(jobs.get("18")).toEqual(exited("FAILED (BadConstraints)"));
    expect(jobs.get("13_2")).toEqual(pending("Priority"));
  });

  it("reads CANCELLED lines whose %R is empty (a trailing space in the real output)", () => {
    const text = fixture("squeue-t-all-cancelled.txt");
    expect(text).toContain("6_4 CANCELLED \n");
    const jobs = parseSqueue(text);
    expect(jobs.get("6_4")).toEqual(exited("CANCELLED"));
    expect(jobs.get("19")).toEqual(exited("CANCELLED"));
    expect(jobs.get("21_2")).toEqual(exited("COMPLETED"));
    expect(jobs.size).toBe(22);
  });

  it("reads the known job when asked with an unknown one (exit 0, unknown omitted)", () => {
    const mixed = capture("squeue-unknown-and-known-id.json");
    expect(mixed.exitCode).toBe(0);
    expect(parsed(mixed.stdout)).toEqual({ "4": exited("COMPLETED") });
  });
});

describe("parseSqueue mapping of every Slurm state", () => {
  it.each<{ line: string; expected: JobState }>([
    { line: "1 PENDING (Resources)", expected: pending("Resources") },
    { line: "1 CONFIGURING node01", expected: pending("CONFIGURING") },
    { line: "1 SUSPENDED node01", expected: pending("SUSPENDED") },
    { line: "1 REQUEUE_HOLD (JobHeldAdmin)", expected: pending("JobHeldAdmin") },
    { line: "1 RUNNING node[07-09,12],gpu01", expected: running("node07") },
    { line: "1 RUNNING rack[1-2]-n[3-4]", expected: running("rack1-n3") },
    { line: "1 COMPLETING c18a", expected: running("c18a") },
    { line: "1 RUNNING", expected: { state: "running" } },
    { line: "1 COMPLETED c18a", expected: exited("COMPLETED") },
    { line: "1 FAILED (NonZeroExitCode)", expected: exited("FAILED (NonZeroExitCode)") },
    { line: "1 CANCELLED", expected: exited("CANCELLED") },
    { line: "1 TIMEOUT (TimeLimit)", expected: exited("TIMEOUT (TimeLimit)") },
    { line: "1 NODE_FAIL (NodeDown)", expected: exited("NODE_FAIL (NodeDown)") },
    { line: "1 OUT_OF_MEMORY (OutOfMemory)", expected: exited("OUT_OF_MEMORY (OutOfMemory)") },
    { line: "1 PREEMPTED c18a", expected: exited("PREEMPTED") },
    { line: "1 BOOT_FAIL (None)", expected: exited("BOOT_FAIL (None)") },
    { line: "1 DEADLINE (DeadLine)", expected: exited("DEADLINE (DeadLine)") },
    {
      line: "1 SOMETHING_NEW (Why)",
      expected: {
        state: "unknown",
        detail: "squeue reports job 1 in state SOMETHING_NEW, which Skein does not know",
      },
    },
  ])("$line", ({ line, expected }) => {
    expect(parseSqueue(`${line}\n`).get("1")).toEqual(expected);
  });
});

describe("parseSqueue ids", () => {
  it.each<{ line: string; ids: string[] }>([
    { line: "12_1 RUNNING c18a", ids: ["12_1"] },
    { line: "12_[1-3] PENDING (Priority)", ids: ["12_1", "12_2", "12_3"] },
    { line: "12_[1,4-5%2] PENDING (JobArrayTaskLimit)", ids: ["12_1", "12_4", "12_5"] },
    { line: "12_[1-7:3] PENDING (Priority)", ids: ["12_1", "12_4", "12_7"] },
    { line: "12+0 RUNNING c18a", ids: ["12+0"] },
  ])("$line → $ids", ({ line, ids }) => {
    expect([...parseSqueue(line).keys()]).toEqual(ids);
  });

  it("refuses to expand a huge pending range", () => {
    expect(() => parseSqueue("12_[1-1000000] PENDING (Priority)")).toThrow(/run squeue with --array/);
  });
});

describe("parseSqueue malformed input", () => {
  it.each(["", "\n", "  \n\n"])("returns no jobs for %j", (output) => {
    expect(parseSqueue(output).size).toBe(0);
  });

  it.each([
    { case: "garbage", output: "hello world\n" },
    { case: "a header line (forgot -h)", output: "JOBID STATE NODELIST(REASON)\n1 RUNNING c18a\n" },
    { case: "a truncated line", output: "3 PENDING (Resources)\n6_4\n" },
    { case: "compact state codes (%t instead of %T)", output: "1 R c18a\n" },
    {
      case: "the default squeue layout",
      output: fixture("squeue-t-all.txt").replace(/^4 COMPLETED/, "  4 batch name root CD"),
    },
  ])("throws on $case and shows the line", ({ output }) => {
    expect(() => parseSqueue(output)).toThrow(/cannot parse line \d+ of squeue output/);
  });

  it("names the expected format in the error", () => {
    expect(() => parseSqueue("nonsense")).toThrow(`--format="${SQUEUE_FORMAT}"`);
  });
});

describe("SQUEUE_ARGS", () => {
  it("asks for the format the parser reads, one line per array element, and finished jobs", () => {
    expect(SQUEUE_ARGS).toContain(`--format=${SQUEUE_FORMAT}`);
    expect(SQUEUE_ARGS).toEqual(expect.arrayContaining(["--noheader", "--array", "--states=all"]));
  });
});

describe("isInvalidJobIdError", () => {
  it("recognises squeue asked only about an unknown id (captured)", () => {
    const { stderr, exitCode } = capture("squeue-unknown-id.json");
    expect(isInvalidJobIdError(stderr, exitCode)).toBe(true);
  });

  it.each([
    { case: "exit 0", stderr: "", exitCode: 0 },
    {
      case: "another error",
      stderr: "slurm_load_jobs error: Unable to contact slurm controller (connect failure)\n",
      exitCode: 1,
    },
    {
      case: "the message with another exit code",
      stderr: "slurm_load_jobs error: Invalid job id specified\n",
      exitCode: 2,
    },
    { case: "a killed squeue", stderr: "", exitCode: null },
  ])("is false for $case", ({ stderr, exitCode }) => {
    expect(isInvalidJobIdError(stderr, exitCode)).toBe(false);
  });
});
