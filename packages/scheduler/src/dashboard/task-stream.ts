/**
 * The dashboard's memory of finished tasks: a bounded ring buffer of start/stop times per worker
 * (the task stream chart) and per-group totals since the scheduler started (tasks are forgotten
 * once no one wants them, so the scheduler's state alone cannot say how many ran). Plain data: no
 * timers, no IO.
 */

export interface TaskStreamEvent {
  /** Increases by one per recorded task; a viewer asks for what came after the last one it saw. */
  readonly seq: number;
  readonly worker: string;
  readonly key: string;
  /** Task group (the key's prefix). */
  readonly prefix: string;
  /** Epoch milliseconds, on the scheduler's clock (stop minus the duration the worker measured). */
  readonly start: number;
  readonly stop: number;
  /** False when the task raised. */
  readonly ok: boolean;
}

export interface GroupTotals {
  /** Tasks of this group that finished since the scheduler started. */
  finished: number;
  /** ...and that failed. */
  erred: number;
  /** Epoch ms of the last one. */
  lastAt: number;
}

/** Default number of finished tasks kept for the chart. */
export const DEFAULT_TASK_STREAM_LENGTH = 10_000;
/** Groups whose totals are kept; the least recently active are dropped beyond this. */
const MAX_GROUP_TOTALS = 1_000;

export class TaskStream {
  readonly #capacity: number;
  readonly #ring: (TaskStreamEvent | undefined)[];
  #lastSeq = 0;
  readonly #groups = new Map<string, GroupTotals>();
  #finished = 0;
  #erred = 0;
  /** The group of the last recorded task: the last entry of `#groups`. */
  #lastGroup: string | undefined;

  constructor(capacity: number = DEFAULT_TASK_STREAM_LENGTH) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`task stream length must be a whole number above 0, got ${capacity}`);
    this.#capacity = capacity;
    this.#ring = new Array<TaskStreamEvent | undefined>(capacity);
  }

  /** Sequence number of the newest event (0 before the first). */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Events currently held (at most the capacity). */
  get size(): number {
    return Math.min(this.#lastSeq, this.#capacity);
  }

  /** Totals since the start, for Prometheus counters. */
  get totals(): { readonly finished: number; readonly erred: number } {
    return { finished: this.#finished, erred: this.#erred };
  }

  /** Per-group totals, least recently active first. */
  get groups(): ReadonlyMap<string, Readonly<GroupTotals>> {
    return this.#groups;
  }

  /** Called once per finished task: no copies, and the group map is reordered only when the group changes. */
  record(event: Omit<TaskStreamEvent, "seq">): TaskStreamEvent {
    const { worker, key, prefix, start, stop, ok } = event;
    const stored: TaskStreamEvent = { seq: ++this.#lastSeq, worker, key, prefix, start, stop, ok };
    this.#ring[(stored.seq - 1) % this.#capacity] = stored;
    this.#finished += 1;
    if (!ok) this.#erred += 1;
    let totals = this.#groups.get(prefix);
    if (totals === undefined || prefix !== this.#lastGroup) {
      // Re-insert so Map order is least-recently-active first, then trim from the front. Runs of
      // tasks of one group (a map) find it last already.
      totals ??= { finished: 0, erred: 0, lastAt: 0 };
      this.#groups.delete(prefix);
      this.#groups.set(prefix, totals);
      this.#lastGroup = prefix;
      if (this.#groups.size > MAX_GROUP_TOTALS) {
        const oldest = this.#groups.keys().next();
        if (!oldest.done) this.#groups.delete(oldest.value);
      }
    }
    totals.finished += 1;
    if (!ok) totals.erred += 1;
    totals.lastAt = stop;
    return stored;
  }

  /** Events newer than `seq`, oldest first; at most `limit` (the newest ones). */
  since(seq: number, limit: number = this.#capacity): TaskStreamEvent[] {
    const available = Math.min(this.#lastSeq - Math.max(0, Math.floor(seq)), this.size, Math.max(0, limit));
    const events: TaskStreamEvent[] = [];
    for (let s = this.#lastSeq - available + 1; s <= this.#lastSeq; s++) {
      const event = this.#ring[(s - 1) % this.#capacity];
      if (event) events.push(event);
    }
    return events;
  }
}
