/**
 * `#SBATCH` lines for one job (pure). One task with all the job's cores; on several nodes
 * (`job.nodes`), one task per node with the cores of one node each (`--mem` is per node in Slurm).
 */
import { formatWalltime, type JobSpec } from "@skein/core";
import { resolve } from "node:path";

export interface SlurmDirectiveOptions {
  /** `#SBATCH --partition` */
  readonly partition?: string | undefined;
  /** `#SBATCH --account` */
  readonly account?: string | undefined;
  /** Each becomes `#SBATCH <line>`, after Skein's own directives (so they can override them). */
  readonly jobExtraDirectives: readonly string[];
}

/** The directive lines, each starting with `#SBATCH `. */
export function slurmDirectives(job: JobSpec, options: SlurmDirectiveOptions): string[] {
  const nodes = job.nodes ?? 1;
  const lines = [`--job-name=${job.name}`, ...(nodes > 1 ? [`--nodes=${nodes}`, "--ntasks-per-node=1"] : ["--ntasks=1"]), `--cpus-per-task=${job.cores}`];
  if (job.memoryBytes) lines.push(`--mem=${formatSlurmMemory(job.memoryBytes)}`);
  if (job.walltimeSeconds !== undefined) lines.push(`--time=${formatWalltime(job.walltimeSeconds)}`);
  if (options.partition) lines.push(`--partition=${options.partition}`);
  if (options.account) lines.push(`--account=${options.account}`);
  // For a script submitted by hand; Skein's own submissions name the exact file on sbatch's command line.
  if (job.logDirectory) lines.push(`--output=${resolve(job.logDirectory, job.arraySize !== undefined ? `${job.name}-%A.%a.out` : `${job.name}-%j.out`)}`);
  lines.push(...options.jobExtraDirectives);
  return lines.map((line) => `#SBATCH ${line}`);
}

/**
 * Memory as `--mem` takes it: Slurm's M is a mebibyte (2^20 bytes), unlike Skein's "MB" (10^6).
 * Rounded up, so the job never gets less than asked: "32GB" (32·10^9 bytes) → `30518M`, "32GiB" → `32768M`.
 */
export function formatSlurmMemory(bytes: number): string {
  return `${Math.ceil(bytes / 2 ** 20)}M`;
}
