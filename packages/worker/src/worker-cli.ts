/**
 * `skein worker <scheduler-address>` (also installed as `skein-worker`): parse the command line,
 * read the secret from the environment, and run the supervisor.
 */
import { readFileSync } from "node:fs";
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
    .command("[scheduler]", "Start worker processes that connect to the scheduler at ws://host:port (or the one in --scheduler-file)")
    .option("--scheduler-file <path>", "Read the scheduler's address from this file (written by skein scheduler --scheduler-file), waiting up to the death timeout for it")
    .option("--nworkers <n>", "Worker processes to run", { default: 1 })
    .option("--nthreads <n>", "Executor threads per worker process", { default: 1 })
    .option("--name <name>", "Worker name prefix; workers are <name>-0, <name>-1, …", { default: `${hostname()}-${process.pid}` })
    .option("--name-env <variables>", "Append -<value> of the first set variable of this comma-separated list to --name (a job array's index, a node's number); repeatable")
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
    .example(`  ${SECRET_ENV}=… ${programName} ws://10.0.0.1:8786 --nworkers 12 --nthreads 1 --interface ib0`)
    .example(`  ${SECRET_FILE_ENV}=~/.skein/secret ${programName} --scheduler-file ~/.skein/scheduler.json --name job-7 --name-env SLURM_ARRAY_TASK_ID`);
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
    const options = await toSupervisorOptions(parsed.args, parsed.options);
    return await runSupervisor(options);
  } catch (error) {
    process.stderr.write(`${programName}: ${isSkeinError(error) ? error.message : (error as Error).stack}\n`);
    return WORKER_EXIT_CODES.BAD_CONFIG;
  }
}

async function toSupervisorOptions(args: readonly string[], flags: Record<string, unknown>): Promise<SupervisorOptions> {
  const schedulerFile = flags.schedulerFile === undefined ? undefined : String(flags.schedulerFile);
  if (args[0] && schedulerFile) throw badOption("give the scheduler address or --scheduler-file, not both");
  if (!args[0] && !schedulerFile) throw badOption("the scheduler address is required: skein worker ws://host:port (or --scheduler-file <path>)");
  const secret = secretFromEnvironment();
  if (!secret) throw badOption(`no cluster secret: set ${SECRET_ENV}, or ${SECRET_FILE_ENV} to a 0600 file that holds it`);
  const deathTimeoutMs = positiveNumber(flags.deathTimeout, "--death-timeout") * 1000;
  const name = String(flags.name) + nameSuffix(flags.nameEnv, process.env);
  const nworkers = positiveInteger(flags.nworkers, "--nworkers");
  const nthreads = positiveInteger(flags.nthreads, "--nthreads");
  const memoryLimit = parseBytes(String(flags.memoryLimit), "--memory-limit");
  const memory = parseMemoryFlags(flags);
  const resources = parseResources(flags.resources);
  const scheduler = args[0] ?? (await schedulerAddressFromFile(schedulerFile as string, deathTimeoutMs));
  const options: SupervisorOptions = {
    schedulerAddress: scheduler,
    secret,
    name,
    nworkers,
    nthreads,
    memoryLimit,
    memory,
    deathTimeoutMs,
    resources,
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

/**
 * `--name-env SLURM_ARRAY_TASK_ID,PBS_ARRAYID --name-env SLURM_NODEID` → `-3-1`: for each flag, the
 * value of the first variable of its list that is set. Job scripts use it so that every element of
 * a job array and every node of a job names its workers differently, without shell code (which
 * would differ between sh and tcsh).
 */
export function nameSuffix(flag: unknown, env: NodeJS.ProcessEnv): string {
  if (flag === undefined || flag === false) return "";
  const lists = (Array.isArray(flag) ? flag : [flag]).map(String);
  let suffix = "";
  for (const list of lists) {
    const names = list.split(",").map((n) => n.trim()).filter(Boolean);
    const found = names.find((n) => env[n] !== undefined && env[n] !== "");
    if (found === undefined) throw badOption(`--name-env ${list}: none of these variables is set, so the worker names would not be unique (is this a job array / a job on several nodes?)`);
    const value = env[found] as string;
    if (!/^[A-Za-z0-9_.]+$/.test(value)) throw badOption(`--name-env: ${found} is ${JSON.stringify(value)}, which cannot be part of a worker name`);
    suffix += `-${value}`;
  }
  return suffix;
}

/**
 * The scheduler's address from a scheduler file, waiting for the file (the scheduler's job may
 * start after the workers' jobs) for up to `timeoutMs`.
 */
export async function schedulerAddressFromFile(path: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let delay = 100;
  let problem = "it does not exist";
  for (;;) {
    try {
      const address = (JSON.parse(readFileSync(path, "utf8")) as { address?: unknown }).address;
      if (typeof address === "string" && /^wss?:\/\//.test(address)) return address;
      problem = "it holds no address";
    } catch (error) {
      problem = (error as NodeJS.ErrnoException).code === "ENOENT" ? "it does not exist" : (error as Error).message;
    }
    if (Date.now() >= deadline) throw badOption(`no scheduler address in the scheduler file ${path} after ${Math.round(timeoutMs / 1000)} s (the death timeout): ${problem}`);
    await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(0, deadline - Date.now()))));
    delay = Math.min(delay * 2, 1000);
  }
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
