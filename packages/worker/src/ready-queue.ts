/**
 * The executor pool's queue of tasks ready to run, in priority order (lower first, then first come
 * first served). A worker may hold hundreds of thousands of them (a million-task graph on two
 * workers), so adding and taking are O(log n): a binary heap for the usual tasks, and a small
 * sorted list for tasks that need abstract resources, which can only start when theirs are free.
 * Removal by key (cancel, work stealing) is lazy: the entry is forgotten and skipped when reached.
 */

export interface Prioritised {
  readonly key: string;
  /** Lower runs first; compared element by element. */
  readonly priority: readonly number[];
  readonly resources?: Readonly<Record<string, number>> | undefined;
}

interface Entry<T> {
  readonly task: T;
  /** Arrival order: the tie-break between equal priorities. */
  readonly seq: number;
}

export class ReadyQueue<T extends Prioritised> {
  #heap: Entry<T>[] = [];
  #withResources: Entry<T>[] = [];
  /** The live entry of each queued key; heap entries not in here were removed. */
  #live = new Map<string, Entry<T>>();
  #seq = 0;

  get size(): number {
    return this.#live.size;
  }

  push(task: T): void {
    this.remove(task.key);
    const entry = { task, seq: this.#seq++ };
    this.#live.set(task.key, entry);
    if (task.resources) insertSorted(this.#withResources, entry);
    else this.#heapPush(entry);
  }

  /** Forget a queued task; false when it was not queued. */
  remove(key: string): boolean {
    const entry = this.#live.get(key);
    if (!entry) return false;
    this.#live.delete(key);
    if (entry.task.resources) this.#withResources.splice(this.#withResources.indexOf(entry), 1);
    return true;
  }

  /** The next task in priority order, without taking it. */
  peek(): T | undefined {
    return this.#first()?.task;
  }

  /** Take the first task in priority order that `fits` (tasks without resources always do). */
  take(fits: (task: T) => boolean): T | undefined {
    const plain = this.#heapHead();
    const resourced = this.#withResources.find((e) => fits(e.task));
    const chosen = plain && (!resourced || before(plain, resourced)) ? plain : resourced;
    if (!chosen) return undefined;
    this.#live.delete(chosen.task.key);
    if (chosen === plain) this.#heapPop();
    else this.#withResources.splice(this.#withResources.indexOf(chosen), 1);
    return chosen.task;
  }

  clear(): void {
    this.#heap = [];
    this.#withResources = [];
    this.#live.clear();
  }

  #first(): Entry<T> | undefined {
    const plain = this.#heapHead();
    const resourced = this.#withResources[0];
    if (!plain) return resourced;
    if (!resourced) return plain;
    return before(plain, resourced) ? plain : resourced;
  }

  /** The heap's top live entry (removed entries on top are dropped on the way). */
  #heapHead(): Entry<T> | undefined {
    while (this.#heap.length > 0) {
      const top = this.#heap[0] as Entry<T>;
      if (this.#live.get(top.task.key) === top) return top;
      this.#heapPop();
    }
    return undefined;
  }

  #heapPush(entry: Entry<T>): void {
    const heap = this.#heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(entry, heap[parent] as Entry<T>)) break;
      heap[i] = heap[parent] as Entry<T>;
      i = parent;
    }
    heap[i] = entry;
  }

  #heapPop(): void {
    const heap = this.#heap;
    const last = heap.pop() as Entry<T>;
    if (heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && before(heap[right] as Entry<T>, heap[left] as Entry<T>) ? right : left;
      if (!before(heap[child] as Entry<T>, last)) break;
      heap[i] = heap[child] as Entry<T>;
      i = child;
    }
    heap[i] = last;
  }
}

function before<T extends Prioritised>(a: Entry<T>, b: Entry<T>): boolean {
  const d = comparePriority(a.task.priority, b.task.priority);
  return d < 0 || (d === 0 && a.seq < b.seq);
}

function comparePriority(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function insertSorted<T extends Prioritised>(list: Entry<T>[], entry: Entry<T>): void {
  let i = list.length;
  while (i > 0 && before(entry, list[i - 1] as Entry<T>)) i--;
  list.splice(i, 0, entry);
}
