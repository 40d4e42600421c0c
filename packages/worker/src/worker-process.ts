/**
 * Entry of one worker process under the supervisor. Options arrive in SKEIN_WORKER_OPTIONS, the
 * secret in SKEIN_SECRET: nothing sensitive on the command line.
 */
import { SKEIN_ERROR_CODES, isSkeinError } from "@skein/serialization";
import { log, secretFromEnvironment, setLogPrefix, tlsFromEnvironment } from "@skein/transport";
import { WORKER_EXIT_CODES } from "./exit-codes.js";
import { startWorker, type RunningWorker, type WorkerOptions } from "./worker.js";

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
  // One handler per signal for the process's whole life. Swapping handlers once connected would
  // stop and restart Node's signal watcher, and a SIGTERM arriving in between would be lost: the
  // worker would ignore the supervisor's stop and live on until the scheduler closes.
  let worker: RunningWorker | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    // Told to stop while still connecting: nothing to hand back, leave now.
    if (!worker) process.exit(WORKER_EXIT_CODES.CLOSED);
    // A batch system's SIGTERM comes before its SIGKILL (Slurm waits 30 s): hand results over, fast.
    // A second signal finds the worker already retiring and changes nothing.
    else void worker.retire(`received ${signal}`, signal === "SIGINT" ? SIGINT_RETIRE_DEADLINE_MS : SIGTERM_RETIRE_DEADLINE_MS);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  // The supervisor died (kill -9, qdel): its IPC channel closes, and we must not outlive it.
  process.once("disconnect", () => (worker ? void worker.close("the supervisor process is gone") : process.exit(WORKER_EXIT_CODES.CLOSED)));
  try {
    const tls = tlsFromEnvironment();
    worker = await startWorker({ ...options, secret, ...(tls ? { tls } : {}) });
  } catch (error) {
    process.stderr.write(`[skein] worker ${options.name}: ${(error as Error).message}\n`);
    if (isSkeinError(error) && error.code === SKEIN_ERROR_CODES.BAD_OPTION) return WORKER_EXIT_CODES.BAD_CONFIG;
    return WORKER_EXIT_CODES.NEVER_CONNECTED;
  }
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
