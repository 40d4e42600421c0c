/**
 * `skein worker <scheduler-address>` (also installed as `skein-worker`): parse the command line,
 * read the secret from the environment, and run the supervisor.
 */
import { hostname } from "node:os";
import { cac } from "cac";
// Light entry points only: this runs in every job's supervisor, before any worker starts.
import { SKEIN_ERROR_CODES, SkeinError, isSkeinError } from "@skein/serialization/errors";
import { parseBytes } from "@skein/serialization/units";
import { SECRET_ENV, SECRET_FILE_ENV, secretFromEnvironment } from "@skein/transport/secret";
import { WORKER_EXIT_CODES } from "./exit-codes.js";
import { DEFAULT_MEMORY_THRESHOLDS, MEMORY_THRESHOLD_NAMES, parseMemoryFraction, type MemoryThresholds } from "./memory-thresholds.js";
import { runSupervisor, type SupervisorOptions } from "./supervisor.js";

/** Run the worker command; resolves with the process exit code. */
export async function runWorkerCli(argv: readonly string[], programName = "skein-worker"): Promise<number> {
  const cli = cac(programName);
  cli
    .command("<scheduler>", "Start worker processes that connect to the scheduler at ws://host:port")
    .option("--nworkers <n>", "Worker processes to run", { default: 1 })
    .option("--nthreads <n>", "Executor threads per worker process", { default: 1 })
    .option("--name <name>", "Worker name prefix; workers are <name>-0, <name>-1, …", { default: `${hostname()}-${process.pid}` })
    .option("--memory-limit <size>", 'Memory limit per worker process, e.g. "4GB" or "4GiB" (0 = none)', { default: "0" })
    .option("--memory-target <fraction>", "Spill results to disk above this fraction of the limit (results held), or false", { default: DEFAULT_MEMORY_THRESHOLDS.target })
    .option("--memory-spill <fraction>", "Spill results to disk above this fraction of the limit (process memory), or false", { default: DEFAULT_MEMORY_THRESHOLDS.spill })
    .option("--memory-pause <fraction>", "Start no new tasks above this fraction of the limit (process memory), or false", { default: DEFAULT_MEMORY_THRESHOLDS.pause })
    .option("--memory-terminate <fraction>", "Restart the worker process above this fraction of the limit (process memory), or false", { default: DEFAULT_MEMORY_THRESHOLDS.terminate })
    .option("--local-directory <path>", "Where to spill results (default: $SKEIN_LOCAL_DIRECTORY, else the system's temporary directory)")
    .option("--interface <name>", 'Network interface to listen on and advertise, e.g. "ib0"')
    .option("--host <address>", "Address to listen on (overrides --interface)")
    .option("--resources <list>", 'Abstract resources this worker offers, e.g. "GPU=2,MEM=10e9"')
    .option("--death-timeout <seconds>", "Exit if the scheduler cannot be reached for this long", { default: 60 })
    .option("--lifetime <seconds>", "Retire after this long: hand results over and leave (e.g. before the walltime)")
    .option("--lifetime-stagger <seconds>", "Retire up to this much earlier, at random, so a job's workers leave one by one", { default: 0 })
    .option("--allowed-modules <list>", "Run only functions sent by reference from these module directories and packages, e.g. /shared/lab-code,@lab/sim")
    .option("--watch-stdin", "Exit when standard input closes (used over ssh, so workers never outlive their session)")
    .example(`  ${SECRET_ENV}=… ${programName} ws://10.0.0.1:8786 --nworkers 12 --nthreads 1 --interface ib0`);
  cli.help((sections) => [
    ...sections,
    {
      title: "Secret",
      body: `  The cluster secret is read from ${SECRET_ENV} or from the 0600 file named by ${SECRET_FILE_ENV},\n  never from the command line (other users can see command lines in ps).`,
    },
  ]);
  cli.version(await ownVersion());

  let parsed: ReturnType<typeof cli.parse>;
  try {
    parsed = cli.parse(["node", programName, ...argv], { run: false });
  } catch (error) {
    process.stderr.write(`${programName}: ${(error as Error).message}\nRun ${programName} --help for usage.\n`);
    return WORKER_EXIT_CODES.BAD_CONFIG;
  }
  if (parsed.options.help || parsed.options.version) return 0;
  try {
    const options = toSupervisorOptions(parsed.args, parsed.options);
    return await runSupervisor(options);
  } catch (error) {
    process.stderr.write(`${programName}: ${isSkeinError(error) ? error.message : (error as Error).stack}\n`);
    return WORKER_EXIT_CODES.BAD_CONFIG;
  }
}

function toSupervisorOptions(args: readonly string[], flags: Record<string, unknown>): SupervisorOptions {
  const scheduler = args[0];
  if (!scheduler) throw badOption("the scheduler address is required: skein worker ws://host:port");
  const secret = secretFromEnvironment();
  if (!secret) throw badOption(`no cluster secret: set ${SECRET_ENV}, or ${SECRET_FILE_ENV} to a 0600 file that holds it`);
  const options: SupervisorOptions = {
    schedulerAddress: scheduler,
    secret,
    name: String(flags.name),
    nworkers: positiveInteger(flags.nworkers, "--nworkers"),
    nthreads: positiveInteger(flags.nthreads, "--nthreads"),
    memoryLimit: parseBytes(String(flags.memoryLimit), "--memory-limit"),
    memory: parseMemoryFlags(flags),
    deathTimeoutMs: positiveNumber(flags.deathTimeout, "--death-timeout") * 1000,
    resources: parseResources(flags.resources),
  };
  if (flags.watchStdin) options.watchStdin = true;
  if (flags.lifetime !== undefined) {
    options.lifetimeMs = positiveNumber(flags.lifetime, "--lifetime") * 1000;
    options.lifetimeStaggerMs = nonNegativeNumber(flags.lifetimeStagger, "--lifetime-stagger") * 1000;
  }
  if (flags.allowedModules !== undefined) options.allowedModules = parseAllowedModules(flags.allowedModules);
  if (flags.interface !== undefined) options.interface = String(flags.interface);
  if (flags.host !== undefined) options.host = String(flags.host);
  if (flags.localDirectory !== undefined) options.localDirectory = String(flags.localDirectory);
  return options;
}

/** `--memory-target 0.6 --memory-spill false …` (also `--no-memory-spill`) → thresholds. */
export function parseMemoryFlags(flags: Record<string, unknown>): Partial<MemoryThresholds> {
  const thresholds: { -readonly [K in keyof MemoryThresholds]?: MemoryThresholds[K] } = {};
  for (const name of MEMORY_THRESHOLD_NAMES) {
    const value = flags[`memory${name[0]?.toUpperCase()}${name.slice(1)}`];
    if (value !== undefined) thresholds[name] = parseMemoryFraction(value, `--memory-${name}`);
  }
  return thresholds;
}

/** "/shared/lab-code,@lab/sim" → entries; relative directories would mean a different place on each node. */
function parseAllowedModules(value: unknown): string[] {
  const entries = String(value).split(",").map((entry) => entry.trim()).filter((entry) => entry.length > 0);
  if (entries.length === 0) throw badOption("--allowed-modules needs at least one absolute directory or package name");
  for (const entry of entries) {
    if (entry.startsWith(".")) throw badOption(`--allowed-modules entries must be absolute directories or package names, got "${entry}"`);
  }
  return entries;
}

/** "GPU=2,MEM=10e9" → { GPU: 2, MEM: 1e10 } */
export function parseResources(value: unknown): Record<string, number> {
  if (value === undefined || value === "") return {};
  const resources: Record<string, number> = {};
  for (const part of String(value).split(/[,\s]+/).filter(Boolean)) {
    const match = /^([A-Za-z_][\w-]*)=(\d+(?:\.\d+)?(?:e\d+)?)$/.exec(part);
    if (!match) throw badOption(`--resources entries must look like NAME=NUMBER (e.g. GPU=2,MEM=10e9), got "${part}"`);
    resources[match[1] as string] = Number(match[2]);
  }
  return resources;
}

function positiveInteger(value: unknown, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw badOption(`${flag} must be a whole number of at least 1, got "${String(value)}"`);
  return n;
}

function positiveNumber(value: unknown, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw badOption(`${flag} must be a positive number, got "${String(value)}"`);
  return n;
}

function nonNegativeNumber(value: unknown, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw badOption(`${flag} must be 0 or a positive number, got "${String(value)}"`);
  return n;
}

function badOption(message: string): SkeinError {
  return new SkeinError("worker", SKEIN_ERROR_CODES.BAD_OPTION, message);
}

async function ownVersion(): Promise<string> {
  const { createRequire } = await import("node:module");
  try {
    return (createRequire(import.meta.url)("../package.json") as { version: string }).version;
  } catch {
    return "unknown";
  }
}
