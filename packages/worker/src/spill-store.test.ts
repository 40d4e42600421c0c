import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { NODE_SPILL_FILE_SYSTEM, OWNER_FILE, SpillStore, createSpillDirectory, openSpillStore, type SpillFileSystem } from "./spill-store.js";

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "skein-spill-test-"));
  made.push(dir);
  return dir;
}

/** Spilled files, without the owner file. */
const spilledFiles = (dir: string) => readdirSync(dir).filter((f) => f !== OWNER_FILE);

/** `n` bytes, all `fill`. */
const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

async function storeIn(options: Partial<ConstructorParameters<typeof SpillStore>[0]> = {}) {
  const directory = await createSpillDirectory(tempDir(), "w/1");
  return { directory, store: new SpillStore({ directory, ...options }) };
}

describe("createSpillDirectory", () => {
  it("makes skein-worker-<name>-<pid>, 0700, with unsafe name characters replaced", async () => {
    const base = tempDir();
    const dir = await createSpillDirectory(join(base, "not", "yet"), "node07/0 x");
    expect(dir).toBe(join(base, "not", "yet", `skein-worker-node07_0_x-${process.pid}`));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readFileSync(join(dir, OWNER_FILE), "utf8")).toBe(`${hostname()} ${process.pid}\n`);
    expect(statSync(join(dir, OWNER_FILE)).mode & 0o777).toBe(0o600);
  });

  it("removes the directories of this host's workers that died without cleaning up, and only those", async () => {
    const base = tempDir();
    const stale = (name: string, owner: string | undefined) => {
      const dir = join(base, name);
      mkdirSync(dir);
      writeFileSync(join(dir, "1"), "spilled");
      if (owner !== undefined) writeFileSync(join(dir, OWNER_FILE), owner);
      return dir;
    };
    // A pid that is surely gone: a child that already exited.
    const deadPid = spawnSync(process.execPath, ["-e", "0"]).pid;
    const dead = stale(`skein-worker-a-${deadPid}`, `${hostname()} ${deadPid}\n`);
    const alive = stale(`skein-worker-b-${process.ppid}`, `${hostname()} ${process.ppid}\n`);
    const otherHost = stale(`skein-worker-c-${deadPid}`, `some-other-node ${deadPid}\n`);
    const noOwner = stale(`skein-worker-d-${deadPid}`, undefined);
    const notOurs = stale("unrelated", `${hostname()} ${deadPid}\n`);
    await createSpillDirectory(base, "w");
    expect([dead, alive, otherHost, noOwner, notOurs].map((d) => existsSync(d))).toEqual([false, true, true, true, true]);
  });

  it("reuses a directory of ours left by a killed process with the same pid, emptied", async () => {
    const base = tempDir();
    const stale = join(base, `skein-worker-w-${process.pid}`);
    mkdirSync(stale);
    writeFileSync(join(stale, "1"), "old");
    expect(await createSpillDirectory(base, "w")).toBe(stale);
    expect(readdirSync(stale)).toEqual([OWNER_FILE]);
  });

  it("refuses a planted link in its place", async () => {
    const base = tempDir();
    symlinkSync(tempDir(), join(base, `skein-worker-w-${process.pid}`));
    await expect(createSpillDirectory(base, "w")).rejects.toThrow(/already exists and is not a directory owned by this user/);
  });

  it("fails with the path and the cause when the location cannot hold a directory", async () => {
    const file = join(tempDir(), "a-file");
    writeFileSync(file, "");
    await expect(createSpillDirectory(join(file, "sub"), "w")).rejects.toThrow(
      new RegExp(`cannot create the spill directory ${join(file, "sub")}/skein-worker-w-\\d+: ENOTDIR`),
    );
  });
});

describe("SpillStore", () => {
  it("behaves like a map of bytes, counting keys and bytes", async () => {
    const store = new SpillStore();
    store.set("a", bytes(10, 1));
    store.set("b", bytes(5, 2));
    expect([store.size, store.bytes, store.memoryBytes, store.has("a"), store.nbytesOf("b")]).toEqual([2, 15, 15, true, 5]);
    store.set("a", bytes(3, 9));
    expect([store.size, store.bytes, store.peek("a")?.[0]]).toEqual([2, 8, 9]);
    expect(store.delete("a")).toBe(true);
    expect(store.delete("a")).toBe(false);
    expect([store.size, store.bytes, await store.get("a")]).toEqual([1, 5, undefined]);
  });

  it("never spills without a directory", () => {
    const store = new SpillStore();
    store.set("a", bytes(10, 1));
    expect(store.canSpill).toBe(false);
    expect(store.spill(10)).toBe(0);
    expect(store.spillableBytes).toBe(0);
  });

  it("spills least recently used first, to 0600 files, and reads them back byte for byte", async () => {
    const { directory, store } = await storeIn();
    for (const [key, fill] of [["a", 1], ["b", 2], ["c", 3]] as const) store.set(key, bytes(100, fill));
    store.peek("a"); // a is now the most recently used
    expect(store.spillDownTo(150)).toBe(200);
    // Until their files are complete, the results stay in memory and readable.
    expect(store.writingBytes).toBe(200);
    expect((await store.get("b"))?.[0]).toBe(2);
    await store.idle();
    expect([store.isSpilled("b"), store.isSpilled("c"), store.isSpilled("a")]).toEqual([true, true, false]);
    expect([store.memoryBytes, store.spilledBytes, store.bytes, store.size, store.spilledTotal]).toEqual([100, 200, 300, 3, 200]);
    const files = spilledFiles(directory);
    expect(files).toHaveLength(2);
    for (const file of files) expect(statSync(join(directory, file)).mode & 0o777).toBe(0o600);
    const back = await store.get("c");
    expect(back).toEqual(bytes(100, 3));
    expect(back?.constructor).toBe(Uint8Array);
    expect(store.peek("c")).toBeUndefined();
  });

  it("reads a large spilled result back into shared memory of its own, byte for byte", async () => {
    const { store } = await storeIn();
    const big = new Uint8Array(3 * 1024 * 1024 + 7).map((_, i) => (i * 13) & 0xff);
    store.set("big", big);
    store.spillDownTo(0);
    await store.idle();
    expect(store.isSpilled("big")).toBe(true);
    const back = await store.get("big");
    expect(back?.constructor).toBe(Uint8Array);
    // Shared, and owning its buffer exactly: handed to an executor thread without a copy.
    expect(back?.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect([back?.byteOffset, back?.buffer.byteLength]).toEqual([0, big.byteLength]);
    expect(Buffer.compare(Buffer.from(back as Uint8Array), Buffer.from(big))).toBe(0);
  });

  it("removes the file of a deleted or replaced result", async () => {
    const { directory, store } = await storeIn();
    store.set("a", bytes(10, 1));
    store.set("b", bytes(10, 2));
    store.spill(20);
    await store.idle();
    expect(spilledFiles(directory)).toHaveLength(2);
    store.delete("a");
    store.set("b", bytes(4, 7));
    await until(() => spilledFiles(directory).length === 0);
    expect([store.size, store.bytes, store.memoryBytes, (await store.get("b"))?.[0]]).toEqual([1, 4, 4, 7]);
  });

  it("deleting a result while its file is written leaves no file behind", async () => {
    const { directory, store } = await storeIn({ maxConcurrentWrites: 1 });
    for (const key of ["a", "b", "c"]) store.set(key, bytes(1000, 1));
    store.spill(3000);
    store.delete("a"); // being written
    store.delete("c"); // still queued
    await store.idle();
    await until(() => spilledFiles(directory).length === 1);
    expect([store.size, store.spilledCount, store.memoryBytes, store.writingBytes]).toEqual([1, 1, 0, 0]);
  });

  it("writes at most maxConcurrentWrites files at a time", async () => {
    let active = 0;
    let most = 0;
    const slow: SpillFileSystem = {
      ...NODE_SPILL_FILE_SYSTEM,
      writeFile: async (path, data) => {
        most = Math.max(most, ++active);
        await new Promise((r) => setTimeout(r, 5));
        await NODE_SPILL_FILE_SYSTEM.writeFile(path, data);
        active--;
      },
    };
    const { store } = await storeIn({ maxConcurrentWrites: 2, fileSystem: slow });
    for (let i = 0; i < 10; i++) store.set(`k${i}`, bytes(10, i));
    store.spill(100);
    await store.idle();
    expect([most, store.spilledCount]).toEqual([2, 10]);
  });

  it("a full disk: one message naming the file and the cause, results kept in memory, no more spilling", async () => {
    const problems: string[] = [];
    const full: SpillFileSystem = {
      ...NODE_SPILL_FILE_SYSTEM,
      writeFile: async (path) => {
        throw Object.assign(new Error(`ENOSPC: no space left on device, open '${path}'`), { code: "ENOSPC" });
      },
    };
    const { directory, store } = await storeIn({ fileSystem: full, onSpillFailure: (p) => problems.push(p) });
    for (let i = 0; i < 5; i++) store.set(`k${i}`, bytes(10, i));
    store.spill(50);
    await store.idle();
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^cannot write ${directory}/\\d+: ENOSPC: no space left on device`));
    expect([store.canSpill, store.memoryBytes, store.writingBytes, store.spilledCount, store.size]).toEqual([false, 50, 0, 0, 5]);
    for (let i = 0; i < 5; i++) expect(store.peek(`k${i}`)).toEqual(bytes(10, i));
    expect(store.spill(50)).toBe(0);
    expect(problems).toHaveLength(1);
  });

  it("a result whose file cannot be read fails with the key and the file", async () => {
    const broken: SpillFileSystem = {
      ...NODE_SPILL_FILE_SYSTEM,
      readFile: async () => {
        throw Object.assign(new Error("EIO: i/o error, read"), { code: "EIO" });
      },
    };
    const { store } = await storeIn({ fileSystem: broken });
    store.set("a", bytes(10, 1));
    store.spill(10);
    await store.idle();
    await expect(store.get("a")).rejects.toThrow(/cannot read spilled result a back from .*\/1: EIO/);
  });

  it("close removes the directory", async () => {
    let closed = 0;
    const { directory, store } = await storeIn({ onClosed: () => closed++ });
    store.set("a", bytes(10, 1));
    store.spill(10);
    await store.close();
    expect(() => statSync(directory)).toThrow(/ENOENT/);
    expect([store.size, store.canSpill, closed]).toEqual([0, false, 1]);
  });

  it("openSpillStore removes its directory when the process exits before close", async () => {
    const base = tempDir();
    const before = new Set(process.listeners("exit"));
    const store = await openSpillStore({ spill: true, localDirectory: base, name: "w", onSpillFailure: () => {} });
    const hooks = process.listeners("exit").filter((l) => !before.has(l));
    expect(hooks).toHaveLength(1);
    store.set("a", bytes(10, 1));
    store.spill(10);
    await store.idle();
    expect(spilledFiles(store.directory as string)).toHaveLength(1);
    (hooks[0] as () => void)();
    expect(readdirSync(base)).toEqual([]);
    await store.close();
    expect(process.listeners("exit")).not.toContain(hooks[0]);
  });

  it("openSpillStore reports a directory it cannot make, and spills nothing", async () => {
    const file = join(tempDir(), "a-file");
    writeFileSync(file, "");
    const problems: string[] = [];
    const before = process.listeners("exit").length;
    const store = await openSpillStore({ spill: true, localDirectory: file, name: "w", onSpillFailure: (p) => problems.push(p) });
    expect(problems).toEqual([expect.stringMatching(/^cannot create the spill directory .*: (EEXIST|ENOTDIR)/)]);
    expect([store.canSpill, process.listeners("exit").length]).toEqual([false, before]);
  });
});

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}
