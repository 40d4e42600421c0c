/**
 * The gate in front of tests that need a real service (Slurm, the Torque wrappers, sshd): in CI
 * (`CI=true`) a missing service fails the run; on a laptop the tests are skipped with one line
 * saying how to enable them. Never a silent skip in CI.
 */
import { spawnSync } from "node:child_process";

export interface ServiceProbe {
  /** What the tests need, as a person would say it: "Slurm with the Torque wrappers". */
  readonly name: string;
  /** Undefined when the service is usable, else what is missing. Synchronous, so `describe` can use it. */
  check(): string | undefined;
}

export interface ServiceGate {
  readonly skip: boolean;
  readonly reason?: string;
}

const ENABLE_HINT = "tools/test-cluster.sh start";

/** Decide whether tests that need `probe` run, are skipped (with a reason), or fail (in CI). */
export function requireService(probe: ServiceProbe, env: NodeJS.ProcessEnv = process.env): ServiceGate {
  const missing = probe.check();
  if (missing === undefined) return { skip: false };
  if (isCi(env)) {
    throw new Error(`[skein-testkit] ${probe.name} is required in CI (CI=${env.CI}) but ${missing}. Run \`${ENABLE_HINT}\` before the tests.`);
  }
  return { skip: true, reason: `[skein-testkit] skipping: ${probe.name} not available (${missing}); run \`${ENABLE_HINT}\` to enable these tests` };
}

function isCi(env: NodeJS.ProcessEnv): boolean {
  const ci = env.CI?.trim().toLowerCase();
  return ci !== undefined && ci !== "" && ci !== "false" && ci !== "0";
}

/** Run a command synchronously; undefined when it exits 0, else a one-line description of the failure. */
export function commandProblem(argv: readonly string[], expect?: (stdout: string) => string | undefined): string | undefined {
  const [file, ...args] = argv as [string, ...string[]];
  const result = spawnSync(file, args, { encoding: "utf8", timeout: 15_000 });
  const shown = argv.join(" ");
  if (result.error) return `\`${shown}\` could not run (${(result.error as NodeJS.ErrnoException).code ?? result.error.message})`;
  if (result.status !== 0) return `\`${shown}\` exited ${result.status ?? result.signal}: ${(result.stderr || result.stdout).trim().split("\n")[0] ?? ""}`;
  return expect?.(result.stdout);
}

function cached(name: string, check: () => string | undefined): ServiceProbe {
  let answer: { value: string | undefined } | undefined;
  return {
    name,
    check: () => (answer ??= { value: check() }).value,
  };
}

const slurmResponding = (): string | undefined =>
  commandProblem(["sinfo", "--noheader", "--responding", "--format=%n %a"], (out) => (/\bup\b/.test(out) ? undefined : "sinfo lists no responding node in an up partition"));

/** Slurm with its Torque wrappers (`qsub`, `qstat`, `qdel`), as `tools/test-cluster.sh` provides. */
export const slurmTorqueWrappers: ServiceProbe = cached(
  "Slurm with the Torque wrappers (qsub/qstat/qdel)",
  // Not plain `qstat`: with no job known at all it exits 153, like for an unknown id.
  () => slurmResponding() ?? commandProblem(["qstat", "-Q"], (out) => (/^\S+\s.*\byes\b/m.test(out) ? undefined : "qstat -Q lists no enabled queue")) ?? commandProblem(["which", "qsub", "qdel"]),
);

/** Slurm itself (`sbatch`, `squeue`, `scancel`). */
export const slurm: ServiceProbe = cached("Slurm (sbatch/squeue/scancel)", () => slurmResponding() ?? commandProblem(["squeue", "--noheader", "--states=all"]) ?? commandProblem(["which", "sbatch", "scancel"]));

/** Nothing to check: for backends that only start local processes. */
export const always: ServiceProbe = { name: "nothing", check: () => undefined };
