/**
 * `#PBS` lines for one job (pure). Torque asks for cores as `nodes=1:ppn=N`, PBS Pro / OpenPBS as
 * `select=1:ncpus=N`; both take `walltime=HH:MM:SS` and memory in their own units. A job on several
 * nodes (`job.nodes`) asks for `nodes=2:ppn=N` (memory for all of them) or `select=2:ncpus=N:mem=…`
 * with `place=scatter` (one chunk per host).
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
  const nodes = job.nodes ?? 1;
  if (flavor === "pbspro") {
    // PBS Pro's mem is per chunk; one chunk per node, on different hosts.
    const memory = job.memoryBytes ? formatPbsMemory(job.memoryBytes) : undefined;
    return [`select=${nodes}:ncpus=${job.cores}${memory ? `:mem=${memory}` : ""}`, ...(nodes > 1 ? ["place=scatter"] : [])];
  }
  // Torque's mem is the whole job's.
  const memory = job.memoryBytes ? formatPbsMemory(job.memoryBytes * nodes) : undefined;
  return [`nodes=${nodes}:ppn=${job.cores}`, ...(memory ? [`mem=${memory}`] : [])];
}

/**
 * How many nodes a resource request asks for: `nodes=2:ppn=12` → 2, `nodes=1:c18a:ppn=12` → 1,
 * `nodes=2:ppn=12+1:ppn=4` → 3, `nodes=node01+node02` → 2, `select=2:ncpus=12:mem=32gb` → 2;
 * undefined when it names no nodes (`mem=32gb`).
 */
export function nodesInResourceSpec(spec: string): number | undefined {
  const match = /(?:^|,)\s*(?:nodes|select)=([^,]+)/.exec(spec);
  if (!match?.[1]) return undefined;
  return match[1].split("+").reduce((sum, part) => sum + Number(/^\s*(\d+)/.exec(part)?.[1] ?? 1), 0);
}
