/** Shared by the Grid Engine integration tests: where its commands are, the gate, a recorder, and what is left. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe } from "vitest";
import { commandProblem, requireService, type ServiceProbe } from "@skein/backend-testkit";
import { DEFAULT_SUBMIT_ARGS, parseQstatXmlJobs } from "../src/index.js";

/**
 * Grid Engine's commands on the test cluster: a private bin dir, because /usr/bin/qsub is Slurm's
 * Torque wrapper there (`tools/test-cluster.sh` writes SKEIN_TEST_SGE_BIN into env.sh).
 */
export const SGE_BIN = process.env.SKEIN_TEST_SGE_BIN ?? "/opt/sge/bin";
export const SGE_QUEUE = process.env.SKEIN_TEST_SGE_QUEUE ?? "all.q";
export const sge = (name: string): string => join(SGE_BIN, name);

let answer: { value: string | undefined } | undefined;

/** Grid Engine answering, with a usable queue instance (not unreachable, not in error state). */
export const gridEngine: ServiceProbe = {
  name: `Grid Engine (qsub/qstat/qdel in ${SGE_BIN}, queue ${SGE_QUEUE})`,
  check: () =>
    (answer ??= {
      value:
        commandProblem([sge("qstat"), "-xml"]) ??
        commandProblem([sge("qstat"), "-f", "-q", SGE_QUEUE], (out) => {
          const line = out.split("\n").find((l) => l.startsWith(`${SGE_QUEUE}@`));
          if (!line) return `qstat -f lists no instance of queue ${SGE_QUEUE}`;
          const fields = line.trim().split(/\s+/);
          return fields[3] === "-NA-" || fields.length > 5 ? `queue instance ${fields[0]} is not usable (load ${fields[3]}, states ${fields[5] ?? "-"})` : undefined;
        }),
    }).value,
};

const gate = requireService(gridEngine);
if (gate.skip) console.warn(gate.reason);

/** `describe` that runs only where Grid Engine answers (and fails in CI when it doesn't). */
export const describeOnGridEngine: ReturnType<typeof describe.skipIf> = describe.skipIf(gate.skip);

/** Every job Grid Engine lists, of every user. */
export function qstatJobs(): { id: string; name: string; state: string; slots?: string }[] {
  const xml = execFileSync(sge("qstat"), ["-xml", "-u", "*"], { encoding: "utf8" });
  const slots = new Map([...xml.matchAll(/<JB_job_number>(\d+)<\/JB_job_number>[\s\S]*?<slots>(\d+)<\/slots>/g)].map((m) => [m[1], m[2]]));
  return parseQstatXmlJobs(xml).map((j) => ({ id: j.id, name: j.name, state: j.state, ...(slots.has(j.id) ? { slots: slots.get(j.id) as string } : {}) }));
}

/**
 * A transparent recorder in front of the real commands: it appends its arguments to a log and execs
 * the real command, so a test can count the calls a run made.
 */
export function commandRecorder(): { commands: { submit: string[]; status: string[]; cancel: string[]; accounting: string[] }; calls(): string[][]; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "skein-sge-record-"));
  const log = join(dir, "calls.log");
  const recorder = join(dir, "record");
  writeFileSync(log, "");
  writeFileSync(recorder, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec "$@"\n`, { mode: 0o700 });
  return {
    commands: {
      submit: [recorder, sge("qsub"), ...DEFAULT_SUBMIT_ARGS],
      status: [recorder, sge("qstat"), "-xml"],
      cancel: [recorder, sge("qdel")],
      accounting: [recorder, sge("qacct"), "-j"],
    },
    calls: () =>
      readFileSync(log, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((line) => line.split(" "))
        .map(([command, ...args]) => [(command ?? "").replace(`${SGE_BIN}/`, ""), ...args]),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export { processesWith, until } from "@skein/backend-testkit";
