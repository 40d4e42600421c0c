/** A bounded log of transitions, so an invalid transition can say how the task got there. */
export interface StoryEntry {
  readonly key: string;
  readonly from: string;
  readonly to: string;
  readonly stimulusId: string;
  readonly at: number;
}

export class Story {
  #entries: StoryEntry[] = [];
  #next = 0;
  readonly capacity: number;

  constructor(capacity = 10_000) {
    this.capacity = capacity;
  }

  record(entry: StoryEntry): void {
    if (this.#entries.length < this.capacity) this.#entries.push(entry);
    else this.#entries[this.#next] = entry;
    this.#next = (this.#next + 1) % this.capacity;
  }

  /** Everything recorded about `key`, oldest first. */
  of(key: string): StoryEntry[] {
    const ordered = this.#entries.length < this.capacity ? this.#entries : [...this.#entries.slice(this.#next), ...this.#entries.slice(0, this.#next)];
    return ordered.filter((entry) => entry.key === key);
  }

  /** `of(key)` as text for error messages. */
  describe(key: string): string {
    const entries = this.of(key);
    if (entries.length === 0) return "(no transitions recorded)";
    return entries.map((e) => `${e.from} -> ${e.to} (${e.stimulusId})`).join("; ");
  }
}
