import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryManager } from "./memory-manager.js";
import { DEFAULT_MEMORY_THRESHOLDS, type MemoryThresholds } from "./memory-thresholds.js";
import { SpillStore, createSpillDirectory } from "./spill-store.js";

const LIMIT = 1000;
const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A manager over a real spill store, with process memory set by the test. */
async function setup(thresholds: Partial<MemoryThresholds> = {}, { spill = true } = {}) {
  const base = mkdtempSync(join(tmpdir(), "skein-memory-test-"));
  made.push(base);
  const store = new SpillStore(spill ? { directory: await createSpillDirectory(base, "w") } : {});
  const events: string[] = [];
  let rss = 100;
  let collections = 0;
  const manager = new MemoryManager({
    limit: LIMIT,
    thresholds: { ...DEFAULT_MEMORY_THRESHOLDS, ...thresholds },
    store,
    rss: () => rss,
    collectGarbage: () => collections++,
    onPause: (r) => events.push(`pause ${r}`),
    onResume: (r) => events.push(`resume ${r}`),
    onTerminate: (r) => events.push(`terminate ${r}`),
    onUnmanagedMemory: (r) => events.push(`unmanaged ${r}`),
  });
  const fill = (n: number, each: number) => {
    for (let i = 0; i < n; i++) store.set(`k${store.size}`, new Uint8Array(each));
  };
  return {
    store,
    manager,
    events,
    fill,
    setRss: (value: number) => (rss = value),
    collections: () => collections,
  };
}

describe("MemoryManager", () => {
  it("is off without a limit or without thresholds", () => {
    const store = new SpillStore();
    const base = { store, onPause() {}, onResume() {}, onTerminate() {} };
    expect(new MemoryManager({ ...base, limit: 0, thresholds: DEFAULT_MEMORY_THRESHOLDS }).enabled).toBe(false);
    expect(new MemoryManager({ ...base, limit: LIMIT, thresholds: { target: false, spill: false, pause: false, terminate: false } }).enabled).toBe(false);
    expect(new MemoryManager({ ...base, limit: LIMIT, thresholds: { target: false, spill: false, pause: false, terminate: 0.9 } }).enabled).toBe(true);
  });

  it("target: keeps the results held in memory under target × limit, spilling as they are stored", async () => {
    const { store, manager, fill } = await setup();
    fill(5, 100);
    manager.afterStore();
    expect(store.writingBytes).toBe(0);
    fill(3, 100);
    manager.afterStore();
    await store.idle();
    // 800 bytes held, target 600: the two oldest went to disk.
    expect([store.memoryBytes, store.spilledBytes, store.isSpilled("k0"), store.isSpilled("k1"), store.isSpilled("k2")]).toEqual([600, 200, true, true, false]);
  });

  it("spill: above spill × limit by process memory, spills until RSS would be back under target", async () => {
    const { store, manager, fill, setRss, collections } = await setup();
    fill(5, 100); // 500 held: under target
    setRss(750); // above spill (700)
    manager.check();
    // 150 must go for RSS to reach 600: two results of 100.
    expect(store.writingBytes).toBe(200);
    await store.idle();
    expect(store.spilledBytes).toBe(200);
    // Spilled bytes leave RSS only after a collection: nothing more is spilled until then.
    manager.check();
    expect(collections()).toBe(1);
    expect(store.writingBytes).toBe(0);
    expect(store.spilledBytes).toBe(200);
  });

  it("spill: with nothing left to spill, says so (once) and collects garbage", async () => {
    const { manager, events, setRss, collections } = await setup();
    setRss(750);
    manager.check();
    manager.check();
    expect(events).toEqual(["unmanaged 750"]);
    expect(collections()).toBe(1);
  });

  it("pause: above pause × limit pauses once; below it resumes", async () => {
    const { manager, events, setRss } = await setup({ spill: false });
    setRss(850);
    manager.check();
    manager.check();
    expect(manager.paused).toBe(true);
    setRss(790);
    manager.check();
    expect(manager.paused).toBe(false);
    expect(events).toEqual(["pause 850", "resume 790"]);
  });

  it("terminate: above terminate × limit, called once, and nothing after", async () => {
    const { manager, events, setRss } = await setup();
    setRss(960);
    manager.check();
    manager.check();
    setRss(10);
    manager.check();
    expect(events).toEqual(["terminate 960"]);
  });

  it("a threshold set to false does nothing", async () => {
    const { store, manager, events, fill, setRss } = await setup({ target: false, spill: false, pause: false, terminate: false });
    fill(9, 100);
    setRss(999);
    manager.afterStore();
    manager.check();
    await store.idle();
    expect([store.spilledBytes, events]).toEqual([0, []]);
  });

  it("without a spill directory, results stay in memory and the worker still pauses", async () => {
    const { store, manager, events, fill, setRss } = await setup({}, { spill: false });
    fill(9, 100);
    setRss(850);
    manager.afterStore();
    manager.check();
    expect([store.memoryBytes, store.spilledBytes]).toEqual([900, 0]);
    expect(events).toEqual(["unmanaged 850", "pause 850"]);
  });

  it("checks on a timer once started, and stops", async () => {
    const { manager, events, setRss } = await setup();
    manager.start();
    setRss(850);
    await until(() => events.includes("pause 850"));
    manager.stop();
    setRss(100);
    await new Promise((r) => setTimeout(r, 300));
    expect(events).not.toContain("resume 100");
  });
});

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}
