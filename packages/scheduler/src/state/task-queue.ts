import type { TaskState } from "./task-state.js";

/**
 * Root tasks waiting for room on a worker, highest priority first, FIFO within a priority.
 * A binary heap with lazy deletion: `delete` is O(1) and stale entries are skipped on `pop`.
 */
export class TaskQueue {
  #heap: TaskState[] = [];
  #members = new Set<TaskState>();

  get size(): number {
    return this.#members.size;
  }

  has(ts: TaskState): boolean {
    return this.#members.has(ts);
  }

  add(ts: TaskState): void {
    if (this.#members.has(ts)) return;
    this.#members.add(ts);
    this.#heap.push(ts);
    this.#siftUp(this.#heap.length - 1);
  }

  delete(ts: TaskState): void {
    this.#members.delete(ts);
    // Compact when stale entries dominate, so a long-running cancel storm cannot grow the heap forever.
    if (this.#heap.length > 64 && this.#heap.length > 4 * this.#members.size) this.#rebuild();
  }

  /** The next task to run, or undefined. */
  peek(): TaskState | undefined {
    this.#dropStale();
    return this.#heap[0];
  }

  pop(): TaskState | undefined {
    this.#dropStale();
    const top = this.#heap[0];
    if (top === undefined) return undefined;
    this.#removeTop();
    this.#members.delete(top);
    return top;
  }

  *[Symbol.iterator](): IterableIterator<TaskState> {
    yield* this.#members;
  }

  // --- internal ---

  #dropStale(): void {
    while (this.#heap.length > 0 && !this.#members.has(this.#heap[0] as TaskState)) this.#removeTop();
  }

  #removeTop(): void {
    const last = this.#heap.pop() as TaskState;
    if (this.#heap.length > 0) {
      this.#heap[0] = last;
      this.#siftDown(0);
    }
  }

  #rebuild(): void {
    this.#heap = [...this.#members];
    for (let i = (this.#heap.length >> 1) - 1; i >= 0; i--) this.#siftDown(i);
  }

  #siftUp(index: number): void {
    const heap = this.#heap;
    const item = heap[index] as TaskState;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!before(item, heap[parent] as TaskState)) break;
      heap[index] = heap[parent] as TaskState;
      index = parent;
    }
    heap[index] = item;
  }

  #siftDown(index: number): void {
    const heap = this.#heap;
    const item = heap[index] as TaskState;
    const half = heap.length >> 1;
    while (index < half) {
      let child = 2 * index + 1;
      const right = child + 1;
      if (right < heap.length && before(heap[right] as TaskState, heap[child] as TaskState)) child = right;
      if (!before(heap[child] as TaskState, item)) break;
      heap[index] = heap[child] as TaskState;
      index = child;
    }
    heap[index] = item;
  }
}

/** True when `a` should run before `b`. */
export function before(a: TaskState, b: TaskState): boolean {
  return a.priority[0] !== b.priority[0] ? a.priority[0] < b.priority[0] : a.priority[1] < b.priority[1];
}
