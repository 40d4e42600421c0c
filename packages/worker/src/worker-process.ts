/**
 * Entry of one worker process under the supervisor. Options arrive in SKEIN_WORKER_OPTIONS, the
 * secret in SKEIN_SECRET: nothing sensitive on the command line.
 */
import { SKEIN_ERROR_CODES, isSkeinError } from "@skein/serialization";
import { log, secretFromEnvironment, setLogPrefix, tlsFromEnvironment } from "@skein/transport";
import { WORKER_EXIT_CODES } from "./exit-codes.js";
import { startWorker, type WorkerOptions } from "./worker.js";

/** How long a signalled worker may spend handing its results over before it leaves regardless. */
const SIGTERM_RETIRE_DEADLINE_MS = 20_000;
const SIGINT_RETIRE_DEADLINE_MS = 5_000;

async function main(): Promise<number> {
  const options = JSON.parse(process.env.SKEIN_WORKER_OPTIONS ?? "{}") as Omit<WorkerOptions, "secret">;
  const secret = secretFromEnvironment();
  if (!secret) {
    process.stderr.write("[skein] worker: no cluster secret in SKEIN_SECRET or SKEIN_SECRET_FILE\n");
    return WORKER_EXIT_CODES.BAD_CONFIG;
  }
  // The secret now lives in this process's memory only; children and user code do not need it.
  delete process.env.SKEIN_SECRET;
  setLogPrefix(`worker ${options.name}`);
  // Told to stop while still connecting: nothing to hand back, leave now.
  const stopEarly = () => process.exit(WORKER_EXIT_CODES.CLOSED);
  process.once("SIGTERM", stopEarly);
  process.once("SIGINT", stopEarly);
  process.once("disconnect", stopEarly);
  let worker;
  try {
    const tls = tlsFromEnvironment();
    worker = await startWorker({ ...options, secret, ...(tls ? { tls } : {}) });
  } catch (error) {
    process.stderr.write(`[skein] worker ${options.name}: ${(error as Error).message}\n`);
    if (isSkeinError(error) && error.code === SKEIN_ERROR_CODES.BAD_OPTION) return WORKER_EXIT_CODES.BAD_CONFIG;
    return WORKER_EXIT_CODES.NEVER_CONNECTED;
  }
  process.off("SIGTERM", stopEarly);
  process.off("SIGINT", stopEarly);
  process.off("disconnect", stopEarly);
  const leave = (why: string) => void worker.close(why);
  // A batch system's SIGTERM comes before its SIGKILL (Slurm waits 30 s): hand results over, fast.
  process.once("SIGTERM", () => void worker.retire("received SIGTERM", SIGTERM_RETIRE_DEADLINE_MS));
  process.once("SIGINT", () => void worker.retire("received SIGINT", SIGINT_RETIRE_DEADLINE_MS));
  // The supervisor died (kill -9, qdel): its IPC channel closes, and we must not outlive it.
  process.once("disconnect", () => leave("the supervisor process is gone"));
  const exit = await worker.exited;
  log.debug(`worker ${options.name} exits: ${exit.reason}`);
  return exit.code;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`[skein] worker crashed: ${(error as Error).stack ?? error}\n`);
    process.exit(1);
  },
);
