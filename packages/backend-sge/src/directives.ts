/**
 * `#$` lines for one job (pure). Grid Engine asks for cores through a parallel environment
 * (`-pe smp 12`), for walltime with `-l h_rt=`, and for memory PER SLOT: `-l h_vmem=2667m` with
 * `-pe smp 12` is 12 × 2667m for the job.
 */
import { resolve } from "node:path";
import { formatWalltime, type JobSpec } from "@skein/core";

export interface SgeDirectiveOptions {
  /** `#$ -q` */
  readonly queue?: string | undefined;
  /** `#$ -P` (a project Grid Engine knows) */
  readonly project?: string | undefined;
  /** `#$ -A` (free text, recorded in accounting) */
  readonly account?: string | undefined;
  /** `#$ -pe <parallelEnvironment> <cores>`, written when the job asks for more than one core. */
  readonly parallelEnvironment: string;
  /** The complex memory is requested as, per slot (`h_vmem`, `mem_free`, `m_mem_free`, …); false: none. */
  readonly memoryResource: string | false;
  /** Written verbatim as `#$ -l <resourceSpec>`; Skein then requests no memory itself. */
  readonly resourceSpec?: string | undefined;
  /** `#$ -S <shell>`: the interpreter where the queue's shell_start_mode ignores the `#!` line. */
  readonly shell?: string | undefined;
  /** Each becomes `#$ <line>`, after Skein's own directives (so they can override them). */
  readonly jobExtraDirectives: readonly string[];
}

/** The directive lines, each starting with `#$ `. */
export function sgeDirectives(job: JobSpec, options: SgeDirectiveOptions): string[] {
  const lines = [`-N ${job.name}`];
  if (options.shell) lines.push(`-S ${options.shell}`);
  if (options.queue) lines.push(`-q ${options.queue}`);
  if (options.project) lines.push(`-P ${options.project}`);
  if (options.account) lines.push(`-A ${options.account}`);
  if (job.cores > 1) lines.push(`-pe ${options.parallelEnvironment} ${job.cores}`);
  if (job.walltimeSeconds !== undefined) lines.push(`-l h_rt=${formatWalltime(job.walltimeSeconds)}`);
  if (options.resourceSpec) lines.push(`-l ${options.resourceSpec}`);
  else if (job.memoryBytes && options.memoryResource) lines.push(`-l ${options.memoryResource}=${formatSgeMemory(perSlotBytes(job.memoryBytes, job.cores))}`);
  // stdout and stderr in one file. The backend also passes -j y -o <file> to qsub (the command line
  // wins over the script); these lines serve a script submitted by hand.
  lines.push("-j y");
  // Grid Engine expands $JOB_ID and, for an array's tasks, $TASK_ID in the path.
  if (job.logDirectory) lines.push(`-o ${resolve(job.logDirectory, job.arraySize !== undefined ? `${job.name}-$JOB_ID.$TASK_ID.out` : `${job.name}-$JOB_ID.out`)}`);
  lines.push(...options.jobExtraDirectives);
  return lines.map((line) => `#$ ${line}`);
}

/** Memory per slot: Grid Engine multiplies a per-slot request by the slots the job gets on a host. Rounded up. */
export function perSlotBytes(memoryBytes: number, cores: number): number {
  return Math.ceil(memoryBytes / Math.max(1, cores));
}

/**
 * Memory as Grid Engine writes it (sge_types(1)): `k`, `m`, `g` are powers of 1000 and `K`, `M`, `G`
 * powers of 1024, so Skein's "32GB" (32·10^9 bytes) is exactly `32g` and "32GiB" exactly `32G`.
 * Exact in the largest unit that divides the request; otherwise rounded UP to whole `m` (10^6
 * bytes), so a job never gets less than asked: 32·10^9 / 12 slots → `2667m`.
 */
export function formatSgeMemory(bytes: number): string {
  const units: readonly [string, number][] = [
    ["G", 1024 ** 3],
    ["g", 1000 ** 3],
    ["M", 1024 ** 2],
    ["m", 1000 ** 2],
  ];
  for (const [unit, size] of units) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${Math.ceil(bytes / 1000 ** 2)}m`;
}
