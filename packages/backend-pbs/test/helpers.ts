/** Shared by the PBS integration tests: the gate, a command recorder, and checks on what is left. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe } from "vitest";
import { requireService, slurmTorqueWrappers } from "@skein/backend-testkit";

const gate = requireService(slurmTorqueWrappers);
if (gate.skip) console.warn(gate.reason);

/** `describe` that runs only where Slurm and its Torque wrappers answer (and fails in CI when they don't). */
export const describeOnTestCluster: ReturnType<typeof describe.skipIf> = describe.skipIf(gate.skip);

/**
 * A transparent recorder in front of the real qsub/qstat/qdel: it appends its arguments to a log
 * and execs the real command, so a test can count the calls a run made.
 */
export function commandRecorder(): { commands: { submit: string[]; status: string[]; cancel: string[] }; calls(): string[][]; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "skein-pbs-record-"));
  const log = join(dir, "calls.log");
  const recorder = join(dir, "record");
  writeFileSync(log, "");
  writeFileSync(recorder, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec "$@"\n`, { mode: 0o700 });
  return {
    commands: { submit: [recorder, "qsub"], status: [recorder, "qstat", "-f"], cancel: [recorder, "qdel"] },
    calls: () => readFileSync(log, "utf8").split("\n").filter(Boolean).map((line) => line.split(" ")),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** `qstat` (the wrapper's listing) as { id, name, state } rows. */
export function qstatJobs(): { id: string; name: string; state: string }[] {
  const out = execFileSync("qstat", [], { encoding: "utf8" });
  return out
    .split("\n")
    .slice(2)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length >= 6)
    .map((f) => ({ id: f[0] as string, name: f[1] as string, state: f[4] as string }));
}

/** Jobs Slurm still has pending, running or completing (finished jobs are not listed). */
export function squeueNames(): string[] {
  return execFileSync("squeue", ["--noheader", "--format=%j"], { encoding: "utf8" }).split("\n").filter(Boolean);
}

export { processesWith, until } from "@skein/backend-testkit";
