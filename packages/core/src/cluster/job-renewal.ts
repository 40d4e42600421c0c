/**
 * When an adaptive cluster submits the successor of a job that will reach its walltime. Its workers
 * leave at their lifetime (the walltime minus a margin, staggered: `lifetimeFor`), handing their
 * results to the workers that stay. If the successor is submitted only when they have left — as
 * dask-jobqueue's adaptive clusters do — a cluster of one job, or of jobs submitted together, has no
 * worker to hand anything to, and everything they held is recomputed or, for scattered data, lost.
 * So the successor goes in early enough to be connected by then: the longest time this cluster's
 * jobs have taken from submission to their first worker, with room to spare.
 */
import { lifetimeFor } from "./job-spec.js";

/** Startup times remembered: the queue changes, the last few jobs say most about the next one. */
const STARTUP_SAMPLES = 5;

export class JobRenewal {
  /** Seconds after a job starts when its first worker may leave; undefined: its workers stay until the job ends. */
  readonly #leaveAfterSeconds: number | undefined;
  readonly #pollSeconds: number;
  readonly #startups: number[] = [];

  constructor(options: { walltimeSeconds: number | undefined; walltimeEnforced: boolean; workerExtraArgs: readonly string[]; pollSeconds: number }) {
    this.#pollSeconds = options.pollSeconds;
    this.#leaveAfterSeconds = leaveAfter(options);
  }

  /** A job's first worker connected `seconds` after the job was submitted. */
  observeStartup(seconds: number): void {
    this.#startups.push(seconds);
    if (this.#startups.length > STARTUP_SAMPLES) this.#startups.shift();
  }

  /**
   * How long before its workers start to leave a job's successor is submitted: one and a half
   * times the slowest recent startup, plus a status poll (the start time is known only that
   * precisely) and a few seconds, but at most half of the job's useful life, so that a long queue
   * wait does not make every job run beside its successor for most of its time.
   */
  leadSeconds(): number | undefined {
    if (this.#leaveAfterSeconds === undefined) return undefined;
    const slowest = this.#startups.length > 0 ? Math.max(...this.#startups) : 0;
    return Math.min(1.5 * slowest + this.#pollSeconds + 5, this.#leaveAfterSeconds / 2);
  }

  /** The job, running since `startedAt` (ms), needs a successor now: its workers leave within the lead time. */
  endingSoon(startedAt: number | undefined, now: number): boolean {
    const lead = this.leadSeconds();
    if (startedAt === undefined || lead === undefined || this.#leaveAfterSeconds === undefined) return false;
    return now >= startedAt + (this.#leaveAfterSeconds - lead) * 1000;
  }
}

/**
 * When the first worker of a job may leave: `--lifetime` minus `--lifetime-stagger`, as derived from
 * the walltime (batch backends) or given in `workerExtraArgs`.
 */
function leaveAfter(options: { walltimeSeconds: number | undefined; walltimeEnforced: boolean; workerExtraArgs: readonly string[] }): number | undefined {
  const given = numberAfter(options.workerExtraArgs, "--lifetime");
  if (given !== undefined) return Math.max(0, given - (numberAfter(options.workerExtraArgs, "--lifetime-stagger") ?? 0));
  if (!options.walltimeEnforced || options.walltimeSeconds === undefined) return undefined;
  const { lifetime, stagger } = lifetimeFor(options.walltimeSeconds);
  return lifetime - stagger;
}

function numberAfter(args: readonly string[], flag: string): number | undefined {
  const at = args.indexOf(flag);
  const value = at >= 0 ? Number(args[at + 1]) : Number.NaN;
  return Number.isFinite(value) ? value : undefined;
}
