/**
 * `#PBS` lines for one job (pure). Torque asks for cores as `nodes=1:ppn=N`, PBS Pro / OpenPBS as
 * `select=1:ncpus=N`; both take `walltime=HH:MM:SS` and memory in their own units.
 */
import { formatWalltime, type JobSpec } from "@skein/core";

export type PbsFlavor = "torque" | "pbspro";

export interface PbsDirectiveOptions {
  /** Which resource syntax to write. @default "torque" */
  readonly flavor: PbsFlavor;
  /** `#PBS -q` */
  readonly queue?: string | undefined;
  /** `#PBS -A` */
  readonly account?: string | undefined;
  /** Written verbatim as `#PBS -l <resourceSpec>`, instead of the request Skein derives from cores and memory. */
  readonly resourceSpec?: string | undefined;
  /** Each becomes `#PBS <line>`, after Skein's own directives (so they can override them). */
  readonly jobExtraDirectives: readonly string[];
}

/** The directive lines, each starting with `#PBS `. */
export function pbsDirectives(job: JobSpec, options: PbsDirectiveOptions): string[] {
  const lines = [`-N ${job.name}`];
  if (options.queue) lines.push(`-q ${options.queue}`);
  if (options.account) lines.push(`-A ${options.account}`);
  if (options.resourceSpec) lines.push(`-l ${options.resourceSpec}`);
  else lines.push(...defaultResources(job, options.flavor).map((resources) => `-l ${resources}`));
  if (job.walltimeSeconds !== undefined) lines.push(`-l walltime=${formatWalltime(job.walltimeSeconds)}`);
  // One output file for stdout and stderr. The backend also passes -j/-o to qsub itself, because
  // Slurm's Torque wrapper ignores them in the script; this line serves scripts submitted by hand.
  lines.push("-j oe");
  lines.push(...options.jobExtraDirectives);
  return lines.map((line) => `#PBS ${line}`);
}

/**
 * Memory as PBS writes it. PBS's `kb`, `mb`, `gb`, `tb` are powers of 1024 (Torque and PBS Pro
 * alike), unlike Skein's "GB" (10^9). The result is exact in the largest unit that divides the
 * request, and rounded up to whole kb otherwise: "32GiB" → `32gb`, "32GB" (32·10^9 bytes) →
 * `31250000kb`, never less than asked.
 */
export function formatPbsMemory(bytes: number): string {
  const kb = Math.ceil(bytes / 1024);
  for (const [unit, size] of [["tb", 1024 ** 3], ["gb", 1024 ** 2], ["mb", 1024]] as const) {
    if (kb % size === 0 && kb >= size) return `${kb / size}${unit}`;
  }
  return `${kb}kb`;
}

// --- internal ---

function defaultResources(job: JobSpec, flavor: PbsFlavor): string[] {
  const memory = job.memoryBytes ? formatPbsMemory(job.memoryBytes) : undefined;
  if (flavor === "pbspro") return [`select=1:ncpus=${job.cores}${memory ? `:mem=${memory}` : ""}`];
  return [`nodes=1:ppn=${job.cores}`, ...(memory ? [`mem=${memory}`] : [])];
}
