/**
 * The Slurm job script (pure): shebang, `#SBATCH` directives, the prologue, then the worker. Like
 * the PBS one it runs under tcsh as well as sh and bash: no `export`, no bashisms, every word quoted.
 */
import { batchJobScript, type JobSpec } from "@skein/core";
import { slurmDirectives, type SlurmDirectiveOptions } from "./directives.js";

export const DEFAULT_SHEBANG = "#!/usr/bin/env bash";

export interface SlurmJobScriptOptions extends SlurmDirectiveOptions {
  /** First line of the script. @default "#!/usr/bin/env bash" */
  readonly shebang?: string | undefined;
}

export function slurmJobScript(job: JobSpec, options: SlurmJobScriptOptions): string {
  return batchJobScript({ shebang: options.shebang ?? DEFAULT_SHEBANG, directives: slurmDirectives(job, options), job });
}
