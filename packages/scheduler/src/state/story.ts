/**
 * A bounded log of transitions, so an invalid transition can say how the task got there.
 * Kept in parallel arrays: one record per transition is the scheduler's hottest write, and
 * allocating an object for each showed up as garbage-collection time under load.
 */
export interface StoryEntry {
  readonly key: string;
  readonly from: string;
  readonly to: string;
  readonly stimulusId: string;
  readonly at: number;
}

export class Story {
  readonly capacity: number;
  readonly #keys: string[] = [];
  readonly #froms: string[] = [];
  readonly #tos: string[] = [];
  readonly #stimuli: string[] = [];
  readonly #times: Float64Array;
  #next = 0;
  #size = 0;

  constructor(capacity = 10_000) {
    this.capacity = capacity;
    this.#times = new Float64Array(capacity);
  }

  /** Record one transition. `to` may carry a note, e.g. "processing (declined: queued)". */
  record(key: string, from: string, to: string, stimulusId: string): void {
    const i = this.#next;
    this.#keys[i] = key;
    this.#froms[i] = from;
    this.#tos[i] = to;
    this.#stimuli[i] = stimulusId;
    this.#times[i] = Date.now();
    this.#next = (i + 1) % this.capacity;
    if (this.#size < this.capacity) this.#size++;
  }

  /** Everything recorded about `key`, oldest first. */
  of(key: string): StoryEntry[] {
    const entries: StoryEntry[] = [];
    const start = this.#size < this.capacity ? 0 : this.#next;
    for (let n = 0; n < this.#size; n++) {
      const i = (start + n) % this.capacity;
      if (this.#keys[i] !== key) continue;
      entries.push({ key, from: this.#froms[i] as string, to: this.#tos[i] as string, stimulusId: this.#stimuli[i] as string, at: this.#times[i] as number });
    }
    return entries;
  }

  /** `of(key)` as text for error messages. */
  describe(key: string): string {
    const entries = this.of(key);
    if (entries.length === 0) return "(no transitions recorded)";
    return entries.map((e) => `${e.from} -> ${e.to} (${e.stimulusId})`).join("; ");
  }
}
