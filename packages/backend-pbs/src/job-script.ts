/**
 * The PBS job script (pure): shebang, `#PBS` directives, the prologue, then the worker. It runs
 * under tcsh as well as sh and bash (`shebang: "#!/bin/tcsh"` is common on Torque sites), so it
 * uses no `export`, no bashisms and no `$PBS_JOBID` / `$PBS_O_WORKDIR`: tcsh stops at an
 * undefined variable, and Slurm's Torque wrappers define neither.
 */
import { batchJobScript, type JobSpec } from "@skein/core";
import { pbsDirectives, type PbsDirectiveOptions } from "./directives.js";

export const DEFAULT_SHEBANG = "#!/usr/bin/env bash";

export interface PbsJobScriptOptions extends PbsDirectiveOptions {
  /** First line of the script. @default "#!/usr/bin/env bash" */
  readonly shebang?: string | undefined;
}

export function pbsJobScript(job: JobSpec, options: PbsJobScriptOptions): string {
  return batchJobScript({ shebang: options.shebang ?? DEFAULT_SHEBANG, directives: pbsDirectives(job, options), job });
}
