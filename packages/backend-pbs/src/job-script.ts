/**
 * The PBS job script (pure): shebang, `#PBS` directives, the prologue, then the worker. It runs
 * under tcsh as well as sh and bash (`shebang: "#!/bin/tcsh"` is common on Torque sites), so it
 * uses no `export`, no bashisms and no `$PBS_JOBID` / `$PBS_O_WORKDIR`: tcsh stops at an
 * undefined variable, and Slurm's Torque wrappers define neither.
 *
 * An element of a job array names its workers after its index, which the worker reads itself
 * (`--name-env PBS_ARRAYID,SLURM_ARRAY_TASK_ID`: Torque, then Slurm's wrappers; PBS Pro:
 * `PBS_ARRAY_INDEX`). A job on several nodes starts one worker supervisor per node with
 * `pbsdsh` (`-u` on Torque: one task per distinct node), or with `srun` where there is no pbsdsh
 * (Slurm's Torque wrappers); the choice is made by `sh -c` in the job, so the script stays one
 * command for tcsh. Each node names its workers after `PBS_NODENUM` (pbsdsh) or `SLURM_NODEID` (srun).
 */
import { batchJobScript, type JobSpec } from "@skein/core";
import { pbsDirectives, type PbsDirectiveOptions, type PbsFlavor } from "./directives.js";

export const DEFAULT_SHEBANG = "#!/usr/bin/env bash";

export interface PbsJobScriptOptions extends PbsDirectiveOptions {
  /** First line of the script. @default "#!/usr/bin/env bash" */
  readonly shebang?: string | undefined;
}

export function pbsJobScript(job: JobSpec, options: PbsJobScriptOptions): string {
  return batchJobScript({
    shebang: options.shebang ?? DEFAULT_SHEBANG,
    directives: pbsDirectives(job, options),
    job,
    arrayIndexVariables: arrayIndexVariables(options.flavor),
    multiNode: { launcher: pbsNodeLauncher(job, options.flavor), nodeIndexVariables: ["PBS_NODENUM", "SLURM_NODEID"] },
  });
}

/** Where an array element finds its index: the flavor's own variable, then Slurm's (its Torque wrappers). */
export function arrayIndexVariables(flavor: PbsFlavor): string[] {
  return flavor === "pbspro" ? ["PBS_ARRAY_INDEX", "SLURM_ARRAY_TASK_ID"] : ["PBS_ARRAYID", "SLURM_ARRAY_TASK_ID"];
}

/**
 * The words that run the rest of the line once on every node: `sh -c '<pbsdsh, else srun>' skein-nodes`.
 * pbsdsh runs its program by path, hence the `/usr/bin/env` that follows.
 */
export function pbsNodeLauncher(job: JobSpec, flavor: PbsFlavor): string[] {
  const nodes = job.nodes ?? 1;
  const pbsdsh = flavor === "pbspro" ? "pbsdsh --" : "pbsdsh -u";
  const srun = `srun --nodes=${nodes} --ntasks=${nodes} --ntasks-per-node=1 --cpus-per-task=${job.cores}`;
  return ["sh", "-c", `if command -v pbsdsh >/dev/null 2>&1; then exec ${pbsdsh} "$@"; fi; exec ${srun} "$@"`, "skein-nodes"];
}
