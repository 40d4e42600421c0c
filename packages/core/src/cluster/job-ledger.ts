/**
 * A record on disk of the jobs each cluster started, so that jobs outlive nothing unnoticed: when a
 * client dies without cleaning up (kill -9, a crashed login node), `skein jobs list` shows its jobs
 * and `skein jobs cancel` removes them. Queued jobs in particular would otherwise wait in the batch
 * queue for hours and then start for nobody.
 *
 * One JSON file per cluster under $SKEIN_STATE_DIR, else $XDG_STATE_HOME/skein/clusters, else
 * ~/.local/state/skein/clusters; files 0600 in 0700 directories.
 */
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir, hostname } from "node:os";
import { join } from "node:path";

/** How to build the backend again from another process (`skein jobs cancel`). */
export interface BackendOrigin {
  /** The backend as configured: "pbs", "slurm", a module path or a package name. */
  readonly module: string;
  /** Directory relative module paths resolve against. */
  readonly baseDir: string;
  /** The backend's own options (JSON-safe values only). */
  readonly options: Record<string, unknown>;
}

export interface LedgerRecord {
  readonly version: 1;
  /** Unique id of the cluster: `<name>-<8 hex>`. */
  readonly cluster: string;
  readonly name: string;
  readonly host: string;
  /** The client process that owns the jobs. */
  readonly pid: number;
  readonly startedAt: string;
  readonly backendName: string;
  readonly backend: BackendOrigin | undefined;
  /** Jobs not yet seen gone, by id. */
  readonly jobs: Record<string, { readonly submittedAt: string }>;
  /** The cluster's own directory on the shared filesystem: its secret, TLS files, and its jobs' output in `jobs/`. */
  readonly files?: string;
}

export function ledgerDirectory(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SKEIN_STATE_DIR) return join(env.SKEIN_STATE_DIR, "clusters");
  return join(env.XDG_STATE_HOME || join(homedir(), ".local", "state"), "skein", "clusters");
}

export class JobLedger {
  readonly path: string;
  #record: LedgerRecord;

  constructor(name: string, backendName: string, origin: BackendOrigin | undefined, directory = ledgerDirectory()) {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    const cluster = `${name}-${randomUUID().slice(0, 8)}`;
    this.path = join(directory, `${cluster}.json`);
    this.#record = {
      version: 1,
      cluster,
      name,
      host: hostname(),
      pid: process.pid,
      startedAt: new Date().toISOString(),
      backendName,
      backend: origin ? { ...origin, options: jsonSafe(origin.options) } : undefined,
      jobs: {},
    };
  }

  get cluster(): string {
    return this.#record.cluster;
  }

  /** Where the cluster keeps its secret and its jobs' output, so a dead client's can be cleaned up. */
  filesAt(directory: string): void {
    this.#record = { ...this.#record, files: directory };
  }

  submitted(id: string): void {
    this.#record = { ...this.#record, jobs: { ...this.#record.jobs, [id]: { submittedAt: new Date().toISOString() } } };
    this.#write();
  }

  gone(ids: readonly string[]): void {
    const jobs = { ...this.#record.jobs };
    let changed = false;
    for (const id of ids) changed = delete jobs[id] || changed;
    if (!changed) return;
    this.#record = { ...this.#record, jobs };
    this.#write();
  }

  /** The cluster ended with every job gone: forget it. */
  remove(): void {
    rmSync(this.path, { force: true });
  }

  get jobCount(): number {
    return Object.keys(this.#record.jobs).length;
  }

  #write(): void {
    // Write then rename, so a reader never sees half a file.
    const temp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temp, `${JSON.stringify(this.#record, null, 2)}\n`, { mode: 0o600 });
    renameSync(temp, this.path);
  }
}

/** Every cluster recorded in the ledger directory, oldest first. Unreadable files are reported, not fatal. */
export function readLedger(directory = ledgerDirectory()): { records: (LedgerRecord & { path: string })[]; problems: string[] } {
  let names: string[];
  try {
    names = readdirSync(directory).filter((n) => n.endsWith(".json"));
  } catch {
    return { records: [], problems: [] };
  }
  const records: (LedgerRecord & { path: string })[] = [];
  const problems: string[] = [];
  for (const name of names) {
    const path = join(directory, name);
    try {
      const record = JSON.parse(readFileSync(path, "utf8")) as LedgerRecord;
      if (record.version !== 1 || typeof record.jobs !== "object") throw new Error("not a Skein ledger record");
      records.push({ ...record, path });
    } catch (error) {
      problems.push(`${path}: ${(error as Error).message}`);
    }
  }
  records.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  return { records, problems };
}

/**
 * Update a record read by `readLedger` after jobs were cancelled or found gone; deletes it when
 * empty. Returns true when it was deleted (no job of that cluster is left).
 */
export function forgetJobs(record: LedgerRecord & { path: string }, ids: readonly string[]): boolean {
  const jobs = { ...record.jobs };
  for (const id of ids) delete jobs[id];
  if (Object.keys(jobs).length === 0) {
    rmSync(record.path, { force: true });
    return true;
  }
  const { path, ...rest } = record;
  writeFileSync(path, `${JSON.stringify({ ...rest, jobs }, null, 2)}\n`, { mode: 0o600 });
  return false;
}

/**
 * A dead client's cluster directory, once none of its jobs is left: remove its secret, TLS files
 * and scheduler file, which nothing will use again. Its jobs' output (`jobs/`) is the record of what
 * happened, so it stays when there is any (`output` says where). `removed` is false when there was
 * no directory to clean.
 */
export function removeClusterFiles(record: LedgerRecord): { removed: boolean; output?: string } {
  const directory = record.files;
  if (!directory || !existsSync(directory)) return { removed: false };
  for (const entry of readdirSync(directory)) if (entry !== "jobs") rmSync(join(directory, entry), { recursive: true, force: true });
  const output = join(directory, "jobs");
  if (existsSync(output) && readdirSync(output).length > 0) return { removed: true, output };
  rmSync(directory, { recursive: true, force: true });
  return { removed: true };
}

/** True when `pid` is a live process on this host (the ledger's owner check). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function jsonSafe(options: Record<string, unknown>): Record<string, unknown> {
  try {
    return JSON.parse(JSON.stringify(options)) as Record<string, unknown>;
  } catch {
    return {};
  }
}
