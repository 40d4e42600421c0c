/**
 * Job arrays on Torque (`qsub -t 1-N`, `PBS_ARRAYID`), PBS Pro / OpenPBS (`qsub -J 1-N`,
 * `PBS_ARRAY_INDEX`) and Slurm's Torque wrappers (`qsub -t 1-N`, `SLURM_ARRAY_TASK_ID`).
 *
 * Torque and PBS Pro print the array as `12[].server` and name element 3 `12[3].server`, which
 * `qstat -f` and `qdel` take like any job id. Slurm's wrappers print a bare `12`, and cannot
 * address an element at all: `qstat` lists running elements under new Slurm job ids without their
 * index, and `qdel 12_3` would read `12` and cancel the whole array. Their elements are therefore
 * named as Slurm names them (`12_3`) and read and cancelled with `squeue` / `scancel`, which every
 * site with the wrappers has (see `slurm-wrapper-elements.ts`).
 */
import { asJobId, type BatchArrays, type JobId } from "@skein/core";
import type { PbsFlavor } from "./directives.js";

/** What `createBatchBackend` needs to submit and name PBS job arrays. */
export function pbsArrays(flavor: PbsFlavor): BatchArrays {
  return {
    submitArgs: (size) => (flavor === "pbspro" ? ["-J", `1-${size}`] : ["-t", `1-${size}`]),
    // PBS Pro substitutes ^array_index^ in -o; Slurm's wrappers pass -o to sbatch, which substitutes
    // %a; Torque keeps the path and appends "-<index>" (a candidate logs() also tries).
    indexPlaceholder: flavor === "pbspro" ? "^array_index^" : "%a",
    elementIds: elementIdsOf,
  };
}

/** A Slurm-style element id (`12_3`): an element of an array submitted through Slurm's Torque wrappers. */
export const WRAPPER_ELEMENT_ID = /^\d+_\d+$/;

/**
 * The ids of elements 1..size of the array `qsub` printed: `12[].server` → `12[1].server`, …;
 * `12[]` → `12[1]`, …; a bare `12` (Slurm's Torque wrappers) → `12_1`, ….
 */
export function elementIdsOf(arrayId: JobId, size: number): JobId[] {
  const indices = Array.from({ length: size }, (_, i) => i + 1);
  const bracketed = /^(\d+)\[\](.*)$/.exec(arrayId);
  if (bracketed) return indices.map((i) => asJobId(`${bracketed[1]}[${i}]${bracketed[2]}`));
  if (/^\d+$/.test(arrayId)) return indices.map((i) => asJobId(`${arrayId}_${i}`));
  throw new Error(`"${arrayId}" is not the id of a job array: expected "12[].server" (Torque, PBS Pro) or "12" (Slurm's Torque wrappers)`);
}
