/**
 * The adaptive policy, pure: how many workers the current work deserves, with hysteresis so a
 * cluster does not shrink the moment a burst ends (jobs on a batch system take minutes to come
 * back). `Cluster.adapt` runs it on a timer and applies the result.
 */

export interface AdaptOptions {
  /** Never fewer workers than this. @default 0 */
  minimum?: number;
  /** Never more workers than this. @default Infinity */
  maximum?: number;
  /** Seconds between decisions. @default 1 */
  interval?: number;
  /** Aim to finish the pending work in about this many seconds. @default 5 */
  targetDuration?: number;
  /** Scale down only after this many decisions in a row asked for fewer workers. @default 3 */
  waitCount?: number;
}

export interface Load {
  /** Tasks not finished yet. */
  readonly pendingTasks: number;
  /** Their estimated total duration, in seconds. */
  readonly estimatedSeconds: number;
  /** A client holds futures whose results live on workers: keep at least one. */
  readonly holdsWantedResults?: boolean;
}

export class AdaptivePolicy {
  readonly minimum: number;
  readonly maximum: number;
  readonly targetDuration: number;
  readonly waitCount: number;
  #lowerInARow = 0;

  constructor(options: AdaptOptions) {
    this.minimum = options.minimum ?? 0;
    this.maximum = options.maximum ?? Number.POSITIVE_INFINITY;
    this.targetDuration = options.targetDuration ?? 5;
    this.waitCount = options.waitCount ?? 3;
  }

  /** Workers the work deserves: enough to finish it in `targetDuration`, no more than there are tasks. */
  target(load: Load): number {
    let wanted = Math.ceil(load.estimatedSeconds / this.targetDuration);
    if (load.pendingTasks > 0) wanted = Math.max(wanted, 1);
    wanted = Math.min(wanted, load.pendingTasks);
    // Shrinking to nothing would throw away results someone still holds futures for.
    if (load.holdsWantedResults) wanted = Math.max(wanted, 1);
    return Math.min(this.maximum, Math.max(this.minimum, wanted));
  }

  /**
   * The number of workers to plan for, given what is planned now: up at once, down only after
   * `waitCount` consecutive decisions asked for less (and then to the largest of those asks).
   */
  decide(load: Load, planned: number): number {
    const wanted = this.target(load);
    if (wanted >= planned) {
      this.#lowerInARow = 0;
      return wanted;
    }
    this.#lowerInARow += 1;
    if (this.#lowerInARow < this.waitCount) return planned;
    this.#lowerInARow = 0;
    return wanted;
  }
}
