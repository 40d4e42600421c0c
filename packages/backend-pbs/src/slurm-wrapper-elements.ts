/**
 * Array elements submitted through Slurm's Torque wrappers (`12_3`, see `arrays.ts`): the wrappers'
 * `qstat` and `qdel` cannot address them, so their status comes from `squeue` and they are
 * cancelled with `scancel`. Every other id still goes to qstat / qdel. This wraps a backend made by
 * `createBatchBackend`; a backend that never sees such ids behaves exactly as before.
 */
import { spawnSync } from "node:child_process";
import { BatchCommandError, type ClusterBackend, type CommandResult, type JobId, type JobState } from "@skein/core";
import { WRAPPER_ELEMENT_ID } from "./arrays.js";

export interface WrapperElementCommands {
  /** @default ["squeue", "--noheader", "--array", "--states=all", "--format=%i %T %R"]; `--jobs=a,b` is appended */
  readonly status: readonly string[];
  /** @default ["scancel"] */
  readonly cancel: readonly string[];
}

export const DEFAULT_WRAPPER_ELEMENT_COMMANDS: WrapperElementCommands = {
  status: ["squeue", "--noheader", "--array", "--states=all", "--format=%i %T %R"],
  cancel: ["scancel"],
};

export function withSlurmWrapperElements(base: ClusterBackend, commands: WrapperElementCommands = DEFAULT_WRAPPER_ELEMENT_COMMANDS, timeoutMs = 30_000): ClusterBackend {
  const split = (ids: readonly JobId[]) => ({ elements: ids.filter((id) => WRAPPER_ELEMENT_ID.test(id)), others: ids.filter((id) => !WRAPPER_ELEMENT_ID.test(id)) });

  const elementStatus = async (ids: readonly JobId[]): Promise<Map<JobId, JobState>> => {
    const result = await run([...commands.status, `--jobs=${ids.join(",")}`], timeoutMs);
    // Asked only about ids it no longer knows, squeue exits 1 ("Invalid job id specified"): they are gone.
    if (result.exitCode !== 0 && !/Invalid job id specified/.test(result.stderr)) throw new BatchCommandError("pbs", result, `failed with exit code ${result.exitCode}`);
    const printed = parseSqueueStates(result.exitCode === 0 ? result.stdout : "");
    return new Map(ids.map((id) => [id, printed.get(id) ?? { state: "exited", exitCode: null, reason: "no longer known to Slurm" }]));
  };

  return {
    ...base,
    async status(ids) {
      const { elements, others } = split(ids);
      if (elements.length === 0) return base.status(ids);
      const [a, b] = await Promise.all([others.length > 0 ? base.status(others) : new Map<JobId, JobState>(), elementStatus(elements)]);
      return new Map([...a, ...b]);
    },
    async cancel(ids) {
      const { elements, others } = split(ids);
      if (others.length > 0) await base.cancel(others);
      if (elements.length === 0) return;
      // scancel of a finished or unknown element exits 0; anything else is a real failure.
      const result = await run([...commands.cancel, ...elements], timeoutMs);
      if (result.exitCode !== 0) throw new BatchCommandError("pbs", result, `failed with exit code ${result.exitCode}`);
    },
    cancelSync(ids) {
      const { elements, others } = split(ids);
      if (others.length > 0) base.cancelSync?.(others);
      if (elements.length === 0) return;
      const [file, ...args] = [...commands.cancel, ...elements] as [string, ...string[]];
      spawnSync(file, args, { stdio: "ignore", timeout: timeoutMs, env: withoutSecret(process.env) });
    },
  };
}

const QUEUED = new Set(["PENDING", "CONFIGURING", "SUSPENDED", "STOPPED", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "SPECIAL_EXIT", "RESV_DEL_HOLD"]);
const RUNNING = new Set(["RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT", "RESIZING"]);
const EXITED = new Set(["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL", "DEADLINE", "REVOKED"]);

/** `squeue --array --format="%i %T %R"` lines (`12_3 RUNNING c18a`, `12_4 PENDING (Resources)`) → states by id. */
export function parseSqueueStates(stdout: string): Map<string, JobState> {
  const states = new Map<string, JobState>();
  for (const raw of stdout.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "") continue;
    const match = /^(\S+)\s+([A-Z_]+)(?:\s+(.*))?$/.exec(line);
    if (!match?.[1] || !match[2]) throw new Error(`[skein] [pbs] cannot read squeue line ${JSON.stringify(raw)}: expected "<job id> <STATE> <reason or nodes>"`);
    const [, id, state, rest = ""] = match;
    const reason = /^\((.*)\)$/.exec(rest)?.[1];
    if (QUEUED.has(state)) states.set(id, { state: "queued", reason: reason ?? state });
    else if (RUNNING.has(state)) states.set(id, rest && reason === undefined ? { state: "running", host: rest.split(",")[0]?.replace(/\[.*$/, "") ?? rest } : { state: "running" });
    else if (EXITED.has(state)) states.set(id, { state: "exited", exitCode: null, reason: reason ? `${state} (${reason})` : state });
    else states.set(id, { state: "unknown", detail: `squeue reports array element ${id} in state ${state}, which Skein does not know` });
  }
  return states;
}

async function run(argv: readonly string[], timeout: number): Promise<CommandResult> {
  const [file, ...args] = argv as [string, ...string[]];
  const { execa } = await import("execa");
  const result = await execa(file, args, { reject: false, timeout, forceKillAfterDelay: 2000, stdin: "ignore", env: withoutSecret(process.env), extendEnv: false });
  const outcome: CommandResult = { argv, exitCode: result.exitCode ?? null, stdout: result.stdout, stderr: result.stderr };
  if (result.timedOut) throw new BatchCommandError("pbs", outcome, `did not finish within ${timeout / 1000} s and was killed`);
  if (result.exitCode === undefined) throw new BatchCommandError("pbs", outcome, `could not run: ${result.originalMessage ?? result.shortMessage}`);
  return outcome;
}

function withoutSecret(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[0] !== "SKEIN_SECRET"));
}
