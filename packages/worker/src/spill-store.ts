/**
 * The worker's data: encoded results by key, held in memory or spilled to files in the worker's
 * own directory. Reading a spilled result back is transparent to peers and tasks (`get` reads the
 * file); only the memory monitor decides what to spill (`spill`, `spillDownTo`), least recently
 * used first, as Dask's zict buffer does.
 *
 * Writes never block the main thread: they are async, at most `maxConcurrentWrites` at a time, and a
 * result stays in memory (readable) until its file is complete. When the directory cannot be
 * written (unwritable, disk full), spilling stops for good with one clear message, and results stay
 * in memory: the worker keeps computing, and may then reach its pause or terminate threshold.
 */
import { rmSync } from "node:fs";
import { lstat, mkdir, open, readdir, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";

/** In every spill directory: "<host> <pid>" of the worker that made it, so stale ones can be recognised. */
export const OWNER_FILE = ".owner";

/** The file operations the store needs; tests replace them to simulate a full disk. */
export interface SpillFileSystem {
  /** Must create a new file (never overwrite one) readable by this user only. */
  writeFile(path: string, data: Uint8Array): Promise<void>;
  readFile(path: string): Promise<Uint8Array>;
  unlink(path: string): Promise<void>;
}

export const NODE_SPILL_FILE_SYSTEM: SpillFileSystem = {
  writeFile: (path, data) => writeFile(path, data, { mode: 0o600, flag: "wx" }),
  readFile: (path) => readIntoMemory(path),
  unlink: (path) => unlink(path),
};

/** Spilled results at least this large are read back into shared memory (see `readIntoMemory`). */
const SHARED_FROM_BYTES = 64 * 1024;

/**
 * A spilled result read back as a plain Uint8Array owning its buffer, as results held in memory
 * are (cbor-x encodes a Buffer differently). A large one is read straight into shared memory, as
 * results fetched from peers are: executor threads then use it without a copy.
 */
async function readIntoMemory(path: string): Promise<Uint8Array> {
  const file = await open(path, "r");
  try {
    const { size } = await file.stat();
    const bytes = new Uint8Array(size >= SHARED_FROM_BYTES ? new SharedArrayBuffer(size) : new ArrayBuffer(size));
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await file.read(bytes, filled, size - filled, filled);
      if (bytesRead === 0) throw new Error(`${path} ended after ${filled} of its ${size} bytes`);
      filled += bytesRead;
    }
    return bytes;
  } finally {
    await file.close();
  }
}

export interface SpillStoreOptions {
  /** Directory for spilled results (see `createSpillDirectory`); without one nothing is ever spilled. */
  directory?: string | undefined;
  /** Files written at once. @default 2 */
  maxConcurrentWrites?: number;
  /** Called once, when spilling stops working; receives what went wrong, naming the file and the cause. */
  onSpillFailure?: (problem: string) => void;
  /** @default NODE_SPILL_FILE_SYSTEM */
  fileSystem?: SpillFileSystem;
  /** Called once `close` has removed the directory. */
  onClosed?: () => void;
}

interface PendingWrite {
  readonly bytes: Uint8Array;
  readonly file: string;
  started: boolean;
}

interface Spilled {
  readonly file: string;
  readonly nbytes: number;
}

export class SpillStore {
  /** In memory and not chosen for spilling, least recently used first (Map keeps insertion order). */
  #memory = new Map<string, Uint8Array>();
  /** Chosen for spilling: still in memory (and readable) until the file is complete. */
  #writing = new Map<string, PendingWrite>();
  #disk = new Map<string, Spilled>();
  #queue: string[] = [];
  #activeWrites = 0;
  #memoryBytes = 0;
  #writingBytes = 0;
  #diskBytes = 0;
  #spilledTotal = 0;
  #fileCounter = 0;
  #failure: string | undefined;
  #closed = false;
  #idleWaiters: (() => void)[] = [];
  readonly #directory: string | undefined;
  readonly #maxWrites: number;
  readonly #fs: SpillFileSystem;
  readonly #onSpillFailure: (problem: string) => void;
  readonly #onClosed: () => void;

  constructor(options: SpillStoreOptions = {}) {
    this.#directory = options.directory;
    this.#maxWrites = options.maxConcurrentWrites ?? 2;
    this.#fs = options.fileSystem ?? NODE_SPILL_FILE_SYSTEM;
    this.#onSpillFailure = options.onSpillFailure ?? (() => {});
    this.#onClosed = options.onClosed ?? (() => {});
  }

  /** The directory spilled files go to, if spilling is possible at all. */
  get directory(): string | undefined {
    return this.#directory;
  }

  /** Number of results held, in memory or on disk. */
  get size(): number {
    return this.#memory.size + this.#writing.size + this.#disk.size;
  }

  /** Bytes of every result held, in memory or on disk. */
  get bytes(): number {
    return this.#memoryBytes + this.#diskBytes;
  }

  /** Bytes of results in memory ("managed" memory), including those being written out. */
  get memoryBytes(): number {
    return this.#memoryBytes;
  }

  /** Bytes of results on their way to disk: they leave memory once their files are complete. */
  get writingBytes(): number {
    return this.#writingBytes;
  }

  /** Bytes of results in memory that could still be spilled. */
  get spillableBytes(): number {
    return this.canSpill ? this.#memoryBytes - this.#writingBytes : 0;
  }

  get spilledBytes(): number {
    return this.#diskBytes;
  }

  get spilledCount(): number {
    return this.#disk.size;
  }

  /** Bytes moved to disk since the store was made (a counter: the monitor knows when memory was freed). */
  get spilledTotal(): number {
    return this.#spilledTotal;
  }

  /** Spilling works: there is a directory, and no write to it has failed. */
  get canSpill(): boolean {
    return this.#directory !== undefined && this.#failure === undefined && !this.#closed;
  }

  has(key: string): boolean {
    return this.#memory.has(key) || this.#writing.has(key) || this.#disk.has(key);
  }

  isSpilled(key: string): boolean {
    return this.#disk.has(key);
  }

  nbytesOf(key: string): number | undefined {
    return this.#memory.get(key)?.byteLength ?? this.#writing.get(key)?.bytes.byteLength ?? this.#disk.get(key)?.nbytes;
  }

  /** Store `bytes` (the store keeps this very array) as the most recently used result. */
  set(key: string, bytes: Uint8Array): void {
    this.delete(key);
    this.#memory.set(key, bytes);
    this.#memoryBytes += bytes.byteLength;
  }

  /** The result if it is in memory (marking it as used), without touching the disk. */
  peek(key: string): Uint8Array | undefined {
    const bytes = this.#memory.get(key);
    if (bytes) {
      this.#memory.delete(key);
      this.#memory.set(key, bytes);
      return bytes;
    }
    return this.#writing.get(key)?.bytes;
  }

  /**
   * The result, read back from disk if it was spilled (it stays on disk: a result read once, e.g.
   * by a peer, is rarely read again soon). Undefined when the key is not here, or was deleted
   * while being read. Rejects when the file cannot be read.
   */
  async get(key: string): Promise<Uint8Array | undefined> {
    const inMemory = this.peek(key);
    if (inMemory) return inMemory;
    const spilled = this.#disk.get(key);
    if (!spilled) return undefined;
    try {
      return await this.#fs.readFile(spilled.file);
    } catch (error) {
      if (this.#disk.get(key) !== spilled || (error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new Error(`cannot read spilled result ${key} back from ${spilled.file}: ${(error as Error).message}`, { cause: error });
    }
  }

  delete(key: string): boolean {
    const bytes = this.#memory.get(key);
    if (bytes) {
      this.#memory.delete(key);
      this.#memoryBytes -= bytes.byteLength;
      return true;
    }
    const pending = this.#writing.get(key);
    if (pending) {
      // A write in progress finds its entry gone when it completes, and removes its file.
      this.#writing.delete(key);
      this.#memoryBytes -= pending.bytes.byteLength;
      this.#writingBytes -= pending.bytes.byteLength;
      if (!pending.started) this.#queue.splice(this.#queue.indexOf(key), 1);
      this.#settleIdle();
      return true;
    }
    const spilled = this.#disk.get(key);
    if (spilled) {
      this.#disk.delete(key);
      this.#diskBytes -= spilled.nbytes;
      this.#removeFile(spilled.file);
      return true;
    }
    return false;
  }

  /**
   * Start spilling at least `bytes` of results (least recently used first), if spilling works.
   * Returns the bytes chosen; they leave memory as their files complete.
   */
  spill(bytes: number): number {
    if (!this.canSpill || bytes <= 0) return 0;
    let chosen = 0;
    for (const [key, data] of this.#memory) {
      if (chosen >= bytes) break;
      this.#memory.delete(key);
      this.#writing.set(key, { bytes: data, file: join(this.#directory as string, String(++this.#fileCounter)), started: false });
      this.#writingBytes += data.byteLength;
      this.#queue.push(key);
      chosen += data.byteLength;
    }
    this.#pump();
    return chosen;
  }

  /** Spill until the results left in memory, not counting those being written, total at most `limit` bytes. */
  spillDownTo(limit: number): number {
    return this.spill(this.#memoryBytes - this.#writingBytes - limit);
  }

  /** Settles when no write is queued or running (tests, close). */
  idle(): Promise<void> {
    if (this.#queue.length === 0 && this.#activeWrites === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Forget everything and remove the directory (once its pending writes ended). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abandonQueue();
    await this.idle();
    this.#memory.clear();
    this.#writing.clear();
    this.#disk.clear();
    if (this.#directory) await rm(this.#directory, { recursive: true, force: true }).catch(() => {});
    this.#onClosed();
  }

  // --- internal ---

  #pump(): void {
    while (this.#activeWrites < this.#maxWrites && this.#queue.length > 0) {
      const key = this.#queue.shift() as string;
      const pending = this.#writing.get(key) as PendingWrite;
      pending.started = true;
      this.#activeWrites++;
      this.#fs.writeFile(pending.file, pending.bytes).then(
        () => this.#written(key, pending),
        (error: unknown) => this.#writeFailed(key, pending, error),
      );
    }
    this.#settleIdle();
  }

  #written(key: string, pending: PendingWrite): void {
    this.#activeWrites--;
    if (this.#writing.get(key) !== pending || this.#closed) {
      // Deleted or replaced while being written.
      this.#removeFile(pending.file);
    } else {
      this.#writing.delete(key);
      const n = pending.bytes.byteLength;
      this.#memoryBytes -= n;
      this.#writingBytes -= n;
      this.#disk.set(key, { file: pending.file, nbytes: n });
      this.#diskBytes += n;
      this.#spilledTotal += n;
    }
    this.#pump();
  }

  #writeFailed(key: string, pending: PendingWrite, error: unknown): void {
    this.#activeWrites--;
    this.#removeFile(pending.file);
    if (this.#writing.get(key) === pending) this.#keepInMemory(key, pending);
    if (this.#failure === undefined && !this.#closed) {
      this.#failure = `cannot write ${pending.file}: ${(error as Error).message}`;
      this.#abandonQueue();
      this.#onSpillFailure(this.#failure);
    }
    this.#pump();
  }

  /** Results chosen for spilling but not yet being written go back to memory. */
  #abandonQueue(): void {
    for (const key of this.#queue) this.#keepInMemory(key, this.#writing.get(key) as PendingWrite);
    this.#queue = [];
    this.#settleIdle();
  }

  #keepInMemory(key: string, pending: PendingWrite): void {
    this.#writing.delete(key);
    this.#writingBytes -= pending.bytes.byteLength;
    this.#memory.set(key, pending.bytes);
  }

  #removeFile(file: string): void {
    this.#fs.unlink(file).catch(() => {
      // Already gone (the write failed early), or the directory went away: nothing to clean up.
    });
  }

  #settleIdle(): void {
    if (this.#queue.length > 0 || this.#activeWrites > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/**
 * The worker's store. With `spill`, results may go to a new directory in `localDirectory` (see
 * `createSpillDirectory`); when that cannot be made, `onSpillFailure` hears why, once, and the
 * store keeps everything in memory. The directory is removed by `close`, or when the process exits
 * first (`process.exit` on a signal, the terminate threshold): the exit hook is in place before
 * the directory exists, so no exit path leaves it behind (kill -9 aside: see removeStaleDirectories).
 */
export async function openSpillStore(options: { spill: boolean; localDirectory: string; name: string; onSpillFailure: (problem: string) => void }): Promise<SpillStore> {
  if (!options.spill) return new SpillStore({ onSpillFailure: options.onSpillFailure });
  const path = spillDirectoryPath(options.localDirectory, options.name);
  const removeOnExit = () => {
    try {
      rmSync(path, { recursive: true, force: true });
    } catch {
      // The process is exiting; a directory that cannot be removed is left behind, nothing more.
    }
  };
  process.once("exit", removeOnExit);
  let directory: string | undefined;
  try {
    directory = await createSpillDirectory(options.localDirectory, options.name);
  } catch (error) {
    process.off("exit", removeOnExit);
    options.onSpillFailure((error as Error).message);
  }
  return new SpillStore({ directory, onSpillFailure: options.onSpillFailure, onClosed: () => process.off("exit", removeOnExit) });
}

function spillDirectoryPath(localDirectory: string, workerName: string): string {
  return join(localDirectory, `skein-worker-${workerName.replace(/[^\w.-]/g, "_")}-${process.pid}`);
}

/**
 * Make `<localDirectory>/skein-worker-<name>-<pid>`, readable by this user only (0700; files are
 * 0600), creating `localDirectory` if needed, and remove the directories that workers of this host
 * which died without cleaning up left there. Throws an Error naming the path and the cause.
 */
export async function createSpillDirectory(localDirectory: string, workerName: string): Promise<string> {
  const directory = spillDirectoryPath(localDirectory, workerName);
  try {
    await mkdir(localDirectory, { recursive: true, mode: 0o700 });
    await removeStaleDirectories(localDirectory);
    try {
      await mkdir(directory, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      // Left by an earlier process with our pid that was killed (kill -9 skips the cleanup). Reuse it
      // only if it is a real directory of ours: a link planted in a shared /tmp must not redirect us.
      const stat = await lstat(directory);
      if (!stat.isDirectory() || (process.getuid && stat.uid !== process.getuid())) {
        throw new Error(`${directory} already exists and is not a directory owned by this user`);
      }
      await rm(directory, { recursive: true, force: true });
      await mkdir(directory, { mode: 0o700 });
    }
    await writeFile(join(directory, OWNER_FILE), `${hostname()} ${process.pid}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    throw new Error(`cannot create the spill directory ${directory}: ${(error as Error).message}`, { cause: error });
  }
  return directory;
}

/**
 * Spill directories of workers of this host whose process is gone (kill -9, the OOM killer: no
 * exit handler ran). Only directories of ours with an owner file naming this host are touched: a
 * `localDirectory` on a shared filesystem also holds the live directories of other hosts' workers.
 */
async function removeStaleDirectories(localDirectory: string): Promise<void> {
  const entries = await readdir(localDirectory).catch(() => [] as string[]);
  const host = hostname();
  await Promise.all(
    entries
      .filter((entry) => /^skein-worker-.+-\d+$/.test(entry))
      .map(async (entry) => {
        const directory = join(localDirectory, entry);
        try {
          const [ownerHost, ownerPid] = (await readFile(join(directory, OWNER_FILE), "utf8")).trim().split(" ");
          if (ownerHost !== host || isAlive(Number(ownerPid))) return;
          const stat = await lstat(directory);
          if (!stat.isDirectory() || (process.getuid && stat.uid !== process.getuid())) return;
          await rm(directory, { recursive: true, force: true });
        } catch {
          // Not a spill directory of ours, or removed meanwhile by another worker starting up.
        }
      }),
  );
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
