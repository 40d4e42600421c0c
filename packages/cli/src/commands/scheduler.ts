/**
 * `skein scheduler`: a scheduler on its own, for clients and workers that connect by address, or
 * that find it through `--scheduler-file` (a scheduler in a batch job).
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, resolve } from "node:path";
import { removeSchedulerFile, temporaryCertificate, writeSchedulerFile } from "@skein/core";
import { startScheduler, type Scheduler } from "@skein/scheduler";
import {
  TLS_FILE_ENV,
  formatTlsFile,
  generateSecret,
  interfaceAddress,
  readSecretFile,
  readTlsFile,
  secretFromEnvironment,
  tlsFromEnvironment,
  type TlsOptions,
} from "@skein/transport";
import { EXIT_CODES } from "../exit-codes.js";

interface SchedulerFlags {
  host: string;
  port: number | string;
  interface?: string;
  secretFile?: string;
  tlsFile?: string;
  schedulerFile?: string;
  /** `--no-dashboard` (cac sets false). */
  dashboard?: boolean;
  dashboardPort?: number | string;
  dashboardHost?: string;
  allowedFailures: number | string;
}

/** Dask's dashboard port; when it is taken (and none was asked for), a free one. */
const DEFAULT_DASHBOARD_PORT = 8787;

export async function runScheduler(flags: SchedulerFlags): Promise<number> {
  const port = Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`skein scheduler: --port must be a port number (0-65535), got "${flags.port}"\n`);
    return EXIT_CODES.USAGE;
  }
  const host = flags.interface ? interfaceAddress(flags.interface) : flags.host;
  const { secret, secretFile } = obtainSecret(flags.secretFile);
  const { tls, tlsFile } = await obtainTls(flags.tlsFile);
  const dashboardPort = flags.dashboardPort === undefined ? undefined : Number(flags.dashboardPort);
  if (dashboardPort !== undefined && (!Number.isInteger(dashboardPort) || dashboardPort < 0 || dashboardPort > 65535)) {
    process.stderr.write(`skein scheduler: --dashboard-port must be a port number (0-65535), got "${flags.dashboardPort}"\n`);
    return EXIT_CODES.USAGE;
  }
  const allowedFailures = Number(flags.allowedFailures);
  if (!Number.isInteger(allowedFailures) || allowedFailures < 1) {
    process.stderr.write(`skein scheduler: --allowed-failures must be a whole number of at least 1, got "${flags.allowedFailures}"\n`);
    return EXIT_CODES.USAGE;
  }
  // Listening on every interface: give out this machine's name, which the others can resolve.
  const advertiseHost = host === "0.0.0.0" || host === "::" ? hostname() : undefined;
  const schedulerFile = flags.schedulerFile === undefined ? undefined : resolve(String(flags.schedulerFile));
  const scheduler = await startWithDashboard({ secret, host, port, allowedFailures, ...(advertiseHost ? { advertiseHost } : {}), ...(tls ? { tls } : {}) }, flags.dashboard === false ? false : { host: flags.dashboardHost ?? "127.0.0.1", port: dashboardPort });
  // Before anything can stop us, so that the file never outlives this process.
  const stopped = new Promise<void>((resolveStop) => {
    const stop = () => resolveStop();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  if (schedulerFile) {
    // Written once listening, atomically and 0600: workers and clients waiting for it can connect at once.
    mkdirSync(dirname(schedulerFile), { recursive: true, mode: 0o700 });
    writeSchedulerFile(schedulerFile, {
      address: scheduler.address,
      ...(scheduler.dashboard ? { dashboard: scheduler.dashboard.link } : {}),
      pid: process.pid,
      host: hostname(),
      ...(secretFile ? { secretFile } : {}),
      ...(tlsFile ? { tlsFile } : {}),
    });
    process.once("exit", () => removeSchedulerFile(schedulerFile));
  }
  process.stdout.write(`Skein scheduler listening on ${scheduler.address}\n`);
  if (schedulerFile) process.stdout.write(`Scheduler file: ${schedulerFile}\n`);
  if (scheduler.dashboard) process.stdout.write(`Dashboard: ${scheduler.dashboard.link}\n`);
  else if (scheduler.dashboardError) process.stdout.write(`Dashboard: not available (${scheduler.dashboardError})\n`);
  process.stdout.write(
    secretFile
      ? `Secret in ${secretFile}: connect with SKEIN_SECRET_FILE=${secretFile}\n`
      : "Secret taken from SKEIN_SECRET / SKEIN_SECRET_FILE.\n",
  );
  if (tlsFile) process.stdout.write(`TLS (wss://): workers and clients need SKEIN_TLS_FILE=${tlsFile}\n`);
  else if (tls) process.stdout.write("TLS (wss://) with the certificate from SKEIN_TLS_CERT / SKEIN_TLS_KEY / SKEIN_TLS_CA.\n");
  if (schedulerFile) {
    process.stdout.write(`  workers: SKEIN_SECRET_FILE=… skein worker --scheduler-file ${schedulerFile} --nworkers 4\n`);
    process.stdout.write(`  clients: await Client.connectSchedulerFile("${schedulerFile}")\n`);
  } else {
    process.stdout.write(`  workers: SKEIN_SECRET_FILE=… skein worker ${scheduler.address} --nworkers 4\n`);
    process.stdout.write(`  clients: await Client.connect("${scheduler.address}")\n`);
  }
  await stopped;
  // Nobody should find a scheduler that is going away.
  if (schedulerFile) removeSchedulerFile(schedulerFile);
  await scheduler.close({ closeWorkers: true });
  return EXIT_CODES.OK;
}

/** Start with the dashboard on the port asked for, or on 8787 and else a free port. */
/**
 * `--tls-file <path>`: use the certificate and key there, or make a temporary self-signed pair
 * there (0600) when the file does not exist; without it, SKEIN_TLS_FILE or SKEIN_TLS_CERT/KEY/CA.
 */
async function obtainTls(file: string | undefined): Promise<{ tls?: TlsOptions; tlsFile?: string }> {
  if (file !== undefined) {
    const path = resolve(String(file));
    if (!existsSync(path)) {
      const { cert, key } = await temporaryCertificate(`scheduler-${hostname()}`);
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      writeFileSync(path, formatTlsFile(cert, key), { mode: 0o600, flag: "wx" });
    }
    return { tls: readTlsFile(path), tlsFile: path };
  }
  const tls = tlsFromEnvironment();
  const fromEnv = process.env[TLS_FILE_ENV];
  return { ...(tls ? { tls } : {}), ...(fromEnv ? { tlsFile: resolve(fromEnv) } : {}) };
}

async function startWithDashboard(options: { secret: string; host: string; port: number; allowedFailures: number; advertiseHost?: string; tls?: TlsOptions }, dashboard: false | { host: string; port: number | undefined }): Promise<Scheduler> {
  if (dashboard === false) return startScheduler({ ...options, dashboard: false });
  if (dashboard.port !== undefined) return startScheduler({ ...options, dashboard: { host: dashboard.host, port: dashboard.port } });
  try {
    return await startScheduler({ ...options, dashboard: { host: dashboard.host, port: DEFAULT_DASHBOARD_PORT } });
  } catch (error) {
    if ((error as { cause?: { code?: string } }).cause?.code !== "EADDRINUSE") throw error;
    return startScheduler({ ...options, dashboard: { host: dashboard.host, port: 0 } });
  }
}

/** Secret from the environment, from an existing file, or a new one written to the file (0600). */
function obtainSecret(file: string | undefined): { secret: string; secretFile?: string } {
  if (file) {
    const path = resolve(file);
    if (existsSync(path)) return { secret: readSecretFile(path), secretFile: path };
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const secret = generateSecret();
    writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: "wx" });
    return { secret, secretFile: path };
  }
  const fromEnv = secretFromEnvironment();
  if (fromEnv) return { secret: fromEnv };
  throw Object.assign(new Error("no secret: pass --secret-file <path> (a new secret is written there, 0600) or set SKEIN_SECRET / SKEIN_SECRET_FILE"), {
    code: "SKEIN_ERR_BAD_OPTION",
  });
}
