/**
 * The Grid Engine job script (pure): shebang, `#$` directives, the prologue, then the worker. Like
 * the PBS and Slurm ones it runs under tcsh as well as sh and bash: no `export`, no `$SGE_*` or
 * `$JOB_ID` in the body, every word quoted. An element of a job array names its workers after its
 * index, which the worker reads itself from `SGE_TASK_ID` (`--name-env`).
 */
import { batchJobScript, type JobSpec } from "@skein/core";
import { SGE_TASK_VARIABLE } from "./arrays.js";
import { sgeDirectives, type SgeDirectiveOptions } from "./directives.js";

export const DEFAULT_SHEBANG = "#!/usr/bin/env bash";

export interface SgeJobScriptOptions extends Omit<SgeDirectiveOptions, "shell"> {
  /** First line of the script. @default "#!/usr/bin/env bash" */
  readonly shebang?: string | undefined;
  /** `#$ -S`. @default the shebang's interpreter when the shebang is an absolute path alone ("#!/bin/tcsh" → /bin/tcsh) */
  readonly shell?: string | undefined;
}

export function sgeJobScript(job: JobSpec, options: SgeJobScriptOptions): string {
  const shebang = options.shebang ?? DEFAULT_SHEBANG;
  const shell = options.shell ?? shellOfShebang(shebang);
  return batchJobScript({ shebang, directives: sgeDirectives(job, { ...options, shell }), job, arrayIndexVariables: [SGE_TASK_VARIABLE] });
}

/**
 * The interpreter a queue with `shell_start_mode posix_compliant` (Grid Engine's default) should
 * use, since it ignores the `#!` line: "#!/bin/tcsh" → "/bin/tcsh". Undefined for "#!/usr/bin/env
 * bash" and for interpreters with arguments, which `-S` cannot express.
 */
export function shellOfShebang(shebang: string): string | undefined {
  const match = /^#!\s*(\/\S+)\s*$/.exec(shebang);
  const path = match?.[1];
  return path === undefined || /\/env$/.test(path) ? undefined : path;
}
