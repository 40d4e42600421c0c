import { readFileSync } from "node:fs";
import type { JobState } from "@skein/core";
import { describe, expect, it } from "vitest";
import {
  NO_LONGER_KNOWN,
  isUnknownJobError,
  matchJobIds,
  normaliseJobId,
  parseQstatFull,
} from "./qstat-parse.js";

const fixture = (name: string): string =>
  readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url), "utf8");

interface CommandCapture {
  command: string;
  stdout: string;
  stderr: string;
  exitCode: number;
}
const capture = (name: string): CommandCapture => JSON.parse(fixture(name)) as CommandCapture;

const parsed = (stdout: string): Record<string, JobState> => Object.fromEntries(parseQstatFull(stdout));

const queued = (letter: string, what: string, comment?: string): JobState => ({
  state: "queued",
  reason: `job_state ${letter} (${what})${comment === undefined ? "" : `: ${comment}`}`,
});

describe("parseQstatFull on the Slurm Torque wrapper (captured on the test cluster)", () => {
  it.each<{ source: string; expected: Record<string, JobState> }>([
    { source: "wrapper-qstat-f-running.txt", expected: { "2": { state: "running", host: "vortex" } } },
    { source: "wrapper-qstat-f-queued.txt", expected: { "3": queued("Q", "queued") } },
    // sbatch -H / qsub -h: the wrapper still prints Q (it has no H)
    { source: "wrapper-qstat-f-held.txt", expected: { "16": queued("Q", "queued") } },
    // the pending element of array 6 is printed under the array's own id
    { source: "wrapper-qstat-f-array-pending-element.txt", expected: { "6": queued("Q", "queued") } },
    // the wrapper has no exit_status: success, failure, cancel and rejection all end as C
    { source: "wrapper-qstat-f-completed.txt", expected: { "4": { state: "exited", exitCode: null } } },
    { source: "wrapper-qstat-f-failed.txt", expected: { "5": { state: "exited", exitCode: null } } },
    { source: "wrapper-qstat-f-cancelled.txt", expected: { "2": { state: "exited", exitCode: null } } },
    { source: "wrapper-qstat-f-rejected.txt", expected: { "7": { state: "exited", exitCode: null } } },
    { source: "wrapper-qstat-f-two-nodes.txt", expected: { "19": { state: "running", host: "c18a" } } },
    {
      source: "wrapper-qstat-f-many.txt",
      expected: {
        "1": { state: "running", host: "c18a" },
        "3": queued("Q", "queued"),
        "4": { state: "exited", exitCode: null },
        "5": { state: "exited", exitCode: null },
        "8": { state: "running", host: "c18a" },
        "6": queued("Q", "queued"),
      },
    },
  ])("$source", ({ source, expected }) => {
    expect(parsed(fixture(source))).toEqual(expected);
  });

  it("reports the wrapper's U (a Slurm DEADLINE job) as unknown, not as exited", () => {
    const state = parseQstatFull(fixture("wrapper-qstat-f-deadline.txt")).get("17");
    expect(state?.state).toBe("unknown");
    expect(state).toMatchObject({ detail: expect.stringMatching(/job_state U/) });
  });

  it("keeps the wrapper's print order, which is Slurm's and not the order asked", () => {
    // asked as `qstat -f 1 3 4 5 6 8 99999`; 99999 is simply absent
    expect([...parseQstatFull(fixture("wrapper-qstat-f-many.txt")).keys()]).toEqual([
      "1",
      "3",
      "4",
      "5",
      "8",
      "6",
    ]);
  });

  it("reads the wrapper's output for an unknown id (nothing, exit 153) as no jobs", () => {
    const unknown = capture("wrapper-qstat-f-unknown.json");
    expect(unknown.exitCode).toBe(153);
    expect(parseQstatFull(unknown.stdout).size).toBe(0);
  });
});

describe("parseQstatFull on Torque (hand-written after shared/docs/test-cluster.md)", () => {
  it("maps every record of torque-qstat-f.txt", () => {
    expect(parsed(fixture("torque-qstat-f.txt"))).toEqual({
      // exec_host continues on a tab-indented line; the first host is before it
      "1234.server.example.edu": { state: "running", host: "node07" },
      "1235.server.example.edu": { state: "running", host: "node08" },
      "1236.server.example.edu": queued("Q", "queued"),
      "1237.server.example.edu": queued("H", "held"),
      "1238.server.example.edu": queued("W", "waiting for its start time"),
      "1239.server.example.edu": queued("T", "in transit"),
      "1240.server.example.edu": queued("S", "suspended"),
      "1241.server.example.edu": { state: "running", host: "node11" },
      "1242.server.example.edu": { state: "exited", exitCode: 0 },
      "1243.server.example.edu": {
        state: "exited",
        exitCode: -11,
        reason: "ended by the batch system (exit_status -11)",
      },
      "1244.server.example.edu": { state: "exited", exitCode: 271, reason: "killed by signal 15" },
      "1245.server.example.edu": { state: "exited", exitCode: 1 },
      "1246[1].server.example.edu": { state: "running", host: "node12" },
    });
  });

  it("does not mistake continuation lines for attributes or lose their text", () => {
    // Variable_List continues over three tab-indented lines, cut mid-word ("ali" + "ce");
    // were a continuation taken for a record line, parsing would throw.
    const text = fixture("torque-qstat-f.txt");
    expect(text).toContain("PBS_O_LOGNAME=ali\n\tce,");
    expect(parseQstatFull(text).get("1234.server.example.edu")).toEqual({ state: "running", host: "node07" });
  });

  it.each([
    { case: "mid-word", cut: "Insufficient res\n\tources available" },
    { case: "at a space, which belongs to the value", cut: "Insufficient\n\t resources available" },
  ])("joins a value continued $case without adding or losing characters", ({ cut }) => {
    const text = `Job Id: 5.server\n    job_state = Q\n    comment = Not Running: ${cut}\n    queue = batch\n`;
    expect(parsed(text)).toEqual({
      "5.server": queued("Q", "queued", "Not Running: Insufficient resources available"),
    });
  });

  it("gives a record cut before its job_state the unknown state, and keeps the complete ones", () => {
    expect(parsed(fixture("torque-qstat-f-truncated.txt"))).toEqual({
      "1234.server.example.edu": { state: "running", host: "node07" },
      "1235.server.example.edu": { state: "running", host: "node08" },
      "1236.server.example.edu": {
        state: "unknown",
        detail: "qstat -f printed job 1236.server.example.edu without a job_state (truncated output?)",
      },
    });
  });

  it("parses the known job in a call that also named an unknown one", () => {
    const mixed = capture("torque-qstat-f-known-and-unknown.json");
    expect(parsed(mixed.stdout)).toEqual({ "1242.server.example.edu": { state: "exited", exitCode: 0 } });
    expect(isUnknownJobError(mixed.stderr, mixed.exitCode)).toBe(true);
  });
});

describe("parseQstatFull on PBS Pro / OpenPBS (hand-written after shared/docs/test-cluster.md)", () => {
  it("maps every record of pbspro-qstat-fx.txt", () => {
    expect(parsed(fixture("pbspro-qstat-fx.txt"))).toEqual({
      "1234.pbsserver": { state: "exited", exitCode: 0 },
      "1235.pbsserver": { state: "exited", exitCode: 271, reason: "killed by signal 15" },
      "1236.pbsserver": {
        state: "exited",
        exitCode: -3,
        reason: "ended by the batch system (exit_status -3)",
      },
      "1237.pbsserver": { state: "exited", exitCode: null },
      "1238.pbsserver": { state: "running", host: "node09" },
      "1239.pbsserver": queued(
        "Q",
        "queued",
        "Not Running: Insufficient amount of resource: ncpus (R: 12 A: 0 T: 48)"
      ),
      "1240.pbsserver": queued("H", "held", "Job held by alice on Mon Nov 23 10:00:10 2026"),
      // multi-vnode host: vnode node11[0] is on host node11
      "1241.pbsserver": { state: "running", host: "node11" },
      "1242[].pbsserver": { state: "running" },
      "1242[1].pbsserver": { state: "exited", exitCode: 0 },
      "1242[2].pbsserver": { state: "running", host: "node12" },
    });
  });

  it("takes the host from exec_vnode when there is no exec_host", () => {
    const text =
      "Job Id: 9.pbsserver\n    job_state = R\n    exec_vnode = (node03:ncpus=4)+(node04:ncpus=4)\n";
    expect(parsed(text)).toEqual({ "9.pbsserver": { state: "running", host: "node03" } });
  });

  it("joins continuation lines indented with spaces", () => {
    const text = [
      "Job Id: 9.pbsserver",
      "    job_state = Q",
      "    comment = Not Running: Insufficient amount of resource:",
      "        ncpus",
      "    Exit_status = 0",
      "",
    ].join("\n");
    // Exit_status of a queued job is ignored: only C/F/X carry an exit code
    expect(parsed(text)).toEqual({
      "9.pbsserver": queued("Q", "queued", "Not Running: Insufficient amount of resource:ncpus"),
    });
  });
});

describe("parseQstatFull edge cases", () => {
  it.each([
    { case: "empty output", output: "" },
    { case: "only blank lines", output: "\n\n  \n" },
  ])("returns no jobs for $case", ({ output }) => {
    expect(parseQstatFull(output).size).toBe(0);
  });

  it.each([
    { case: "garbage", output: "hello world\n", why: /text before the first Job Id header/ },
    {
      case: "brief qstat output",
      output: fixture("wrapper-qstat-f-many.txt").replace(/^Job Id:\t1\n/, "Job id  Name\n"),
      why: /text before the first Job Id header/,
    },
    {
      case: "an attribute before any header",
      output: "    job_state = R\n",
      why: /text before the first Job Id header/,
    },
    {
      case: "a header without an id",
      output: "Job Id:\n    job_state = R\n",
      why: /a Job Id header without an id/,
    },
    {
      case: "an unindented line in a record",
      output: "Job Id: 1\n    job_state = R\nsurprise\n",
      why: /an unindented line inside a job record on line 3/,
    },
    {
      case: "a continuation before any attribute",
      output: "Job Id: 1\n\tnot an attribute\n",
      why: /a continuation line before any attribute/,
    },
  ])("throws on $case", ({ output, why }) => {
    expect(() => parseQstatFull(output)).toThrow(why);
  });

  it("shows the whole output in the error", () => {
    expect(() => parseQstatFull("qstat: cannot connect to server\n")).toThrow(
      /Whole output: "qstat: cannot connect to server\\n"/
    );
  });

  it.each<{ letter: string; expected: JobState["state"] }>([
    { letter: "M", expected: "unknown" },
    { letter: "Z", expected: "unknown" },
    { letter: "RUNNING", expected: "unknown" },
  ])("reports job_state $letter as $expected", ({ letter, expected }) => {
    expect(parseQstatFull(`Job Id: 1\n\tjob_state = ${letter}\n`).get("1")?.state).toBe(expected);
  });

  it("keeps a running job without exec_host hostless rather than inventing one", () => {
    expect(parsed("Job Id: 1\n\tjob_state = R\n")).toEqual({ "1": { state: "running" } });
  });

  it("does not turn an unparseable exit_status into a number", () => {
    expect(parsed("Job Id: 1\n    job_state = C\n    exit_status = oops\n")).toEqual({
      "1": { state: "exited", exitCode: null, reason: 'unparseable exit_status "oops"' },
    });
  });
});

describe("normaliseJobId", () => {
  it.each([
    ["3", "3"],
    [" 3\n", "3"],
    ["1234.server.example.edu", "1234"],
    ["1234.pbsserver", "1234"],
    ["12[].server", "12[]"],
    ["12[3].pbsserver", "12[3]"],
  ])("%j → %j", (id, expected) => {
    expect(normaliseJobId(id)).toBe(expected);
  });
});

describe("matchJobIds", () => {
  const torque = parseQstatFull(fixture("torque-qstat-f.txt"));

  it("matches ids asked without the server suffix and keys the answer by the asked id", () => {
    const matched = matchJobIds(["1234", "1242.server", "1246[1].server.example.edu"], torque);
    expect(Object.fromEntries(matched)).toEqual({
      "1234": { state: "running", host: "node07" },
      "1242.server": { state: "exited", exitCode: 0 },
      "1246[1].server.example.edu": { state: "running", host: "node12" },
    });
  });

  it("marks asked ids that qstat did not print as no longer known", () => {
    const wrapper = parseQstatFull(fixture("wrapper-qstat-f-many.txt"));
    const matched = matchJobIds(["1", "99999"], wrapper);
    expect(matched.get("1")).toEqual({ state: "running", host: "c18a" });
    expect(matched.get("99999")).toEqual({
      state: "exited",
      exitCode: null,
      reason: "no longer known to the batch system",
    });
    expect(NO_LONGER_KNOWN).toEqual(matched.get("99999"));
  });

  it("does not match an array element to its array or a longer number to a prefix", () => {
    const matched = matchJobIds(["1246[]", "123", "12345"], torque);
    expect([...matched.values()]).toEqual([NO_LONGER_KNOWN, NO_LONGER_KNOWN, NO_LONGER_KNOWN]);
  });

  it("answers every asked id once, even when asked twice", () => {
    expect(matchJobIds(["1234", "1234"], torque).size).toBe(1);
    expect(matchJobIds([], torque).size).toBe(0);
  });
});

describe("isUnknownJobError", () => {
  it.each<{ source: string; benign: boolean }>([
    { source: "wrapper-qstat-f-unknown.json", benign: true }, // captured: nothing on stderr, exit 153
    { source: "torque-qstat-unknown.json", benign: true },
    { source: "torque-qstat-f-known-and-unknown.json", benign: true },
    { source: "pbspro-qstat-unknown.json", benign: true },
    { source: "pbspro-qstat-finished.json", benign: true },
    { source: "pbspro-qstat-server-down.json", benign: false },
    // captured: the wrapper's qdel of an unknown id exits 1 with no message, indistinguishable from a failure
    { source: "wrapper-qdel-unknown.json", benign: false },
  ])("$source → $benign", ({ source, benign }) => {
    const { stderr, exitCode } = capture(source);
    expect(isUnknownJobError(stderr, exitCode)).toBe(benign);
  });

  it.each([
    {
      case: "the message with a different exit code",
      stderr: "qstat: Unknown Job Id Error 1.server\n",
      exitCode: 1,
    },
    { case: "exit 0", stderr: "", exitCode: 0 },
    { case: "a killed qstat", stderr: "", exitCode: null },
    { case: "an empty stderr with exit 35", stderr: "", exitCode: 35 },
    {
      case: "a benign line next to a real error",
      stderr: "qstat: Unknown Job Id Error 1.server\nqstat: Premature end of message\n",
      exitCode: 153,
    },
  ])("is false for $case", ({ stderr, exitCode }) => {
    expect(isUnknownJobError(stderr, exitCode)).toBe(false);
  });
});
