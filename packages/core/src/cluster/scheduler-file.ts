/**
 * The scheduler file: how workers and clients find a scheduler that runs in a batch job
 * (`skein scheduler --scheduler-file <path>`, Dask's `--scheduler-file`). The scheduler writes it
 * once it listens, atomically and 0600, and removes it when it exits; it holds no secret, only
 * where the scheduler is (and where its secret and TLS files are, when it has them).
 *
 * ```json
 * { "address": "ws://node07:40123", "dashboard": "http://node07:8787/?token=…", "pid": 4242, "host": "node07" }
 * ```
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { SKEIN_ERROR_CODES, SkeinError } from "@skein/serialization";
import { readSecretFile, readTlsFile, secretFromEnvironment, tlsFromEnvironment, type TlsOptions } from "@skein/transport";

export interface SchedulerFileContents {
  /** `ws://host:port` that workers and clients connect to. */
  readonly address: string;
  /** The dashboard link (with its token), when the scheduler serves one. */
  readonly dashboard?: string;
  /** The scheduler's process id, on `host`. */
  readonly pid: number;
  /** Host name of the machine the scheduler runs on. */
  readonly host: string;
  /** The 0600 file holding the cluster secret, when the scheduler was started with one. */
  readonly secretFile?: string;
  /** The 0600 TLS file (certificate and key) of a `wss://` scheduler started with one. */
  readonly tlsFile?: string;
}

/** Write the file atomically (a temporary file renamed over it), readable only by its owner. */
export function writeSchedulerFile(path: string, contents: SchedulerFileContents): void {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(contents, null, 2)}\n`, { mode: 0o600 });
  renameSync(temp, path);
}

/** Remove the file, but only if it still describes the scheduler with this pid (a newer one may have replaced it). */
export function removeSchedulerFile(path: string, pid = process.pid): void {
  try {
    if (parseSchedulerFile(readFileSync(path, "utf8"), path).pid !== pid) return;
  } catch {
    return;
  }
  rmSync(path, { force: true });
}

/** The file's contents, or undefined when it does not exist (yet). Throws on a file that is not a scheduler file. */
export function readSchedulerFile(path: string): SchedulerFileContents | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new SkeinError("scheduler-file", SKEIN_ERROR_CODES.BAD_OPTION, `cannot read the scheduler file ${path}: ${(error as Error).message}`, { cause: error });
  }
  return parseSchedulerFile(text, path);
}

/**
 * Wait until the file exists, polling (a shared filesystem may show it late), for at most
 * `timeoutMs`. `check` runs between polls and may throw to stop waiting (the scheduler's job died).
 */
export async function waitForSchedulerFile(path: string, options: { timeoutMs: number; check?: () => void | Promise<void>; signal?: AbortSignal }): Promise<SchedulerFileContents> {
  const deadline = Date.now() + options.timeoutMs;
  let delay = 100;
  for (;;) {
    const contents = readSchedulerFile(path);
    if (contents) return contents;
    await options.check?.();
    options.signal?.throwIfAborted();
    if (Date.now() >= deadline) {
      throw new SkeinError(
        "scheduler-file",
        SKEIN_ERROR_CODES.TIMEOUT,
        `no scheduler file at ${path} after ${Math.round(options.timeoutMs / 1000)} s: is \`skein scheduler --scheduler-file ${path}\` running, and is the file on a filesystem this host shares with it?`,
      );
    }
    await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(0, deadline - Date.now()))));
    delay = Math.min(delay * 2, 1000);
  }
}

function parseSchedulerFile(text: string, path: string): SchedulerFileContents {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new SkeinError("scheduler-file", SKEIN_ERROR_CODES.BAD_OPTION, `the scheduler file ${path} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  const record = value as Partial<Record<keyof SchedulerFileContents, unknown>>;
  if (
    typeof record !== "object" ||
    record === null ||
    typeof record.address !== "string" ||
    !/^wss?:\/\//.test(record.address) ||
    typeof record.pid !== "number" ||
    typeof record.host !== "string" ||
    (record.dashboard !== undefined && typeof record.dashboard !== "string") ||
    (record.secretFile !== undefined && typeof record.secretFile !== "string") ||
    (record.tlsFile !== undefined && typeof record.tlsFile !== "string")
  ) {
    throw new SkeinError("scheduler-file", SKEIN_ERROR_CODES.BAD_OPTION, `${path} is not a Skein scheduler file: expected { "address": "ws://host:port", "pid": …, "host": … }, got ${text.slice(0, 200)}`);
  }
  return {
    address: record.address,
    pid: record.pid,
    host: record.host,
    ...(record.dashboard !== undefined ? { dashboard: record.dashboard as string } : {}),
    ...(record.secretFile !== undefined ? { secretFile: record.secretFile as string } : {}),
    ...(record.tlsFile !== undefined ? { tlsFile: record.tlsFile as string } : {}),
  };
}

/**
 * Where to connect and with which secret, from a scheduler file (for `Client.connectSchedulerFile`):
 * waits up to `timeoutMs` for the file; the secret is the one given, else SKEIN_SECRET /
 * SKEIN_SECRET_FILE, else the secret file the scheduler names in it.
 */
export async function schedulerFileTarget(
  path: string,
  options: { timeoutMs: number; secret?: string | undefined; tls?: TlsOptions | undefined },
): Promise<{ address: string; secret: string; tls: TlsOptions | undefined }> {
  const contents = await waitForSchedulerFile(path, { timeoutMs: options.timeoutMs });
  const secret = options.secret ?? secretFromEnvironment() ?? (contents.secretFile ? readSecretFile(contents.secretFile) : undefined);
  if (!secret) {
    throw new SkeinError("client", SKEIN_ERROR_CODES.BAD_OPTION, `no secret for the scheduler in ${path}: pass { secret }, or set SKEIN_SECRET or SKEIN_SECRET_FILE`);
  }
  const tls = contents.address.startsWith("wss://") ? (options.tls ?? tlsFromEnvironment() ?? (contents.tlsFile ? readTlsFile(contents.tlsFile) : undefined)) : undefined;
  return { address: contents.address, secret, tls };
}
