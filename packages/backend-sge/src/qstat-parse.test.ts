import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { JobState } from "@skein/core";
import { jobState, parseQstatXml, parseQstatXmlJobs } from "./qstat-parse.js";

const fixture = (name: string): string => readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url), "utf8");
const parsed = (stdout: string): Record<string, JobState> => Object.fromEntries(parseQstatXml(stdout));

const running: JobState = { state: "running", host: "vm" };
const waiting: JobState = { state: "queued", reason: "waiting (qw)" };
const held: JobState = { state: "queued", reason: "held (hqw)" };

// Captured on the test cluster's Grid Engine 8.1.9 (tools/test-cluster.sh), see test/fixtures/README.md.
describe("parseQstatXml on captured output", () => {
  it("reads no jobs from the empty skeleton", () => {
    expect(parseQstatXml(fixture("qstat-xml-empty.txt")).size).toBe(0);
  });

  it("reads running, suspended, waiting, held and error-state jobs, and array tasks, from one call", () => {
    const states = parsed(fixture("qstat-xml-many.txt"));
    expect(states).toEqual({
      "8": running,
      "11.1": running,
      "11.2": running,
      "11.3": running,
      "11": running,
      "12": { state: "queued", reason: "suspended (s)" },
      "10": waiting,
      "7": { state: "queued", reason: expect.stringMatching(/^error state Eqw: Grid Engine will not start it until the error is cleared \(`qstat -j 7` shows the error reason, `qmod -cj 7` clears it\)$/) },
      "9": held,
    });
  });

  it("expands pending task lists and keys the array by its number (running while a task runs)", () => {
    expect(parsed(fixture("qstat-xml-array.txt"))).toEqual({
      "13.2": running,
      "13.1": held,
      "13.3": held,
      "13.4": held,
      "13": running,
      "10": waiting,
      "7": expect.objectContaining({ state: "queued", reason: expect.stringMatching(/^error state Eqw/) }),
      "9": held,
    });
  });

  it("reads running tasks one record each and pending tasks as ranges (1-4:1, 2-8:3) and lists", () => {
    const states = parsed(fixture("qstat-xml-array-tasks.txt"));
    expect(states).toEqual({
      "183.1": running,
      "183.2": running,
      "183.3": running,
      "183": running,
      "185.1": waiting,
      "185.2": waiting,
      "185.3": waiting,
      "185.4": waiting,
      "185": waiting,
      "184.1": held,
      "184.2": held,
      "184.3": held,
      "184.4": held,
      "184": held,
      "186.2": held,
      "186.5": held,
      "186.8": held,
      "186": held,
    });
    expect(parseQstatXmlJobs(fixture("qstat-xml-array-tasks.txt")).map((j) => `${j.id}:${j.tasks ?? ""}`)).toEqual(["183:1", "183:2", "183:3", "185:1-4:1", "184:1-4:1", "186:2-8:3"]);
  });

  it("after qdel 183.2 184.3: the running task is dr (still running), the pending one is gone from the list", () => {
    const states = parsed(fixture("qstat-xml-array-after-qdel.txt"));
    expect(states["183.2"]).toEqual(running);
    expect(Object.keys(states).filter((id) => id.startsWith("184."))).toEqual(["184.1", "184.2", "184.4"]);
  });

  it("keeps every record's fields", () => {
    const jobs = parseQstatXmlJobs(fixture("qstat-xml-many.txt"));
    expect(jobs).toHaveLength(8);
    expect(jobs[0]).toEqual({ id: "8", name: "running", state: "r", queue: "all.q@vm", list: "running" });
    expect(jobs.find((j) => j.id === "7")).toEqual({ id: "7", name: "eqwtest", state: "Eqw", queue: "", list: "pending" });
    expect(jobs.filter((j) => j.id === "11").map((j) => j.tasks)).toEqual(["1", "2", "3"]);
  });
});

describe("parseQstatXml", () => {
  const doc = (body: string) => `<?xml version='1.0'?>\n<job_info  xmlns:xsd="x">\n  <queue_info>\n${body}  </queue_info>\n  <job_info>\n  </job_info>\n</job_info>\n`;
  const record = (id: string, state: string, extra = "") =>
    `    <job_list state="running">\n      <JB_job_number>${id}</JB_job_number>\n      <JB_name>a&amp;b</JB_name>\n      <state>${state}</state>\n      <queue_name>all.q@node07.example.org</queue_name>\n${extra}    </job_list>\n`;

  it("decodes entities and takes the host after the last @", () => {
    expect(parseQstatXmlJobs(doc(record("5", "r")))[0]?.name).toBe("a&b");
    expect(parsed(doc(record("5", "r")))).toEqual({ "5": { state: "running", host: "node07.example.org" } });
  });

  it("expands task ranges with steps", () => {
    expect([...parseQstatXml(doc(record("6", "qw", "      <tasks>1-5:2,8</tasks>\n"))).keys()]).toEqual(["6.1", "6.3", "6.5", "6.8", "6"]);
  });

  it.each([
    ["", "empty output (plain qstat with no jobs)"],
    ["job-ID  prior   name\n------\n      1 0.5 hello root r 11/25/2026 14:55:43 all.q@vm 2\n", "plain qstat"],
    ["<?xml version='1.0'?>\n<job_info>\n  <queue_info>\n", "a truncated document"],
  ])("refuses %j (%s)", (stdout) => {
    expect(() => parseQstatXml(stdout)).toThrow(/expected the XML of `qstat -xml`/);
  });

  it("refuses a record without a job number", () => {
    expect(() => parseQstatXml(doc(record("x", "r")))).toThrow(/no job number or state/);
  });
});

describe("jobState", () => {
  const of = (state: string, queue = "") => jobState({ id: "4", state, queue });
  it.each<[string, string, JobState]>([
    ["qw", "", { state: "queued", reason: "waiting (qw)" }],
    ["hqw", "", { state: "queued", reason: "held (hqw)" }],
    ["hRwq", "", { state: "queued", reason: "held (hRwq)" }],
    ["dqw", "", { state: "queued", reason: "being deleted (dqw)" }],
    ["r", "all.q@vm", { state: "running", host: "vm" }],
    ["t", "all.q@vm", { state: "running", host: "vm" }],
    ["Rr", "all.q@vm", { state: "running", host: "vm" }],
    ["dr", "all.q@vm", { state: "running", host: "vm" }],
    ["r", "", { state: "running" }],
    ["s", "all.q@vm", { state: "queued", reason: "suspended (s)" }],
    ["S", "all.q@vm", { state: "queued", reason: "suspended (S)" }],
    ["T", "all.q@vm", { state: "queued", reason: "suspended (T)" }],
    ["z", "", { state: "exited", exitCode: null, reason: "finished (zombie in qstat -s z)" }],
  ])("%s → %j", (letters, queue, expected) => {
    expect(of(letters, queue)).toEqual(expected);
  });

  it("marks error states as queued, saying how to see and clear the error", () => {
    expect(of("Eqw")).toMatchObject({ state: "queued", reason: expect.stringContaining("qmod -cj 4") });
    expect(of("Ehqw")).toMatchObject({ state: "queued" });
  });

  it("does not guess at letters it does not know", () => {
    expect(of("x")).toEqual({ state: "unknown", detail: "qstat reports job 4 in state x, which Skein does not know" });
    expect(of("")).toMatchObject({ state: "unknown" });
  });
});
