/**
 * The Slurm job script (pure): shebang, `#SBATCH` directives, the prologue, then the worker. Like
 * the PBS one it runs under tcsh as well as sh and bash: no `export`, no bashisms, every word quoted.
 * An array element names its workers after `SLURM_ARRAY_TASK_ID` (read by the worker itself, with
 * `--name-env`); a job on several nodes starts one supervisor per node with
 * `srun --ntasks-per-node=1`, each naming its workers after `SLURM_NODEID`.
 */
import { batchJobScript, type JobSpec } from "@skein/core";
import { slurmDirectives, type SlurmDirectiveOptions } from "./directives.js";

export const DEFAULT_SHEBANG = "#!/usr/bin/env bash";

export interface SlurmJobScriptOptions extends SlurmDirectiveOptions {
  /** First line of the script. @default "#!/usr/bin/env bash" */
  readonly shebang?: string | undefined;
}

export function slurmJobScript(job: JobSpec, options: SlurmJobScriptOptions): string {
  return batchJobScript({
    shebang: options.shebang ?? DEFAULT_SHEBANG,
    directives: slurmDirectives(job, options),
    job,
    arrayIndexVariables: ["SLURM_ARRAY_TASK_ID"],
    multiNode: { launcher: slurmNodeLauncher(job), nodeIndexVariables: ["SLURM_NODEID"] },
  });
}

/**
 * One worker supervisor per node of the job. The counts are explicit because srun would otherwise
 * take them from the job's environment, and so are the cores: since Slurm 22.05 srun no longer
 * inherits `--cpus-per-task` from the batch job, and one CPU per node would pin all its workers to it.
 */
export function slurmNodeLauncher(job: JobSpec): string[] {
  const nodes = job.nodes ?? 1;
  return ["srun", `--nodes=${nodes}`, `--ntasks=${nodes}`, "--ntasks-per-node=1", `--cpus-per-task=${job.cores}`];
}
