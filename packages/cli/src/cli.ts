#!/usr/bin/env node
/** `skein`: scheduler, worker, job-script, jobs, dashboard, info. */
import { cac } from "cac";
import { isSkeinError } from "@skein/core";
import { runDashboard } from "./commands/dashboard.js";
import { runInfo } from "./commands/info.js";
import { runJobScript } from "./commands/job-script.js";
import { runJobs } from "./commands/jobs.js";
import { runScheduler } from "./commands/scheduler.js";
import { runWorkerCli } from "@skein/worker";
import { EXIT_CODES } from "./exit-codes.js";
import { version } from "./version.js";

async function main(argv: string[]): Promise<number> {
  // `skein worker …` has its own parser (shared with the skein-worker binary), so hand it the rest as is.
  if (argv[0] === "worker") return runWorkerCli(argv.slice(1), "skein worker");

  const cli = cac("skein");
  cli
    .command("scheduler", "Run a scheduler on its own; clients and workers connect to its address")
    .option("--host <address>", "Address to listen on", { default: "127.0.0.1" })
    .option("--port <port>", "Port to listen on (0 picks a free one)", { default: 8786 })
    .option("--interface <name>", 'Listen on this network interface, e.g. "ib0" (overrides --host)')
    .option("--secret-file <path>", "Write a new secret here (0600), or read it from here if it exists")
    .option("--tls-file <path>", "Serve wss:// with the certificate and key in this PEM file (a temporary pair is made there, 0600, if it does not exist)")
    .option("--scheduler-file <path>", "Once listening, write { address, dashboard, pid, host, secretFile } here (0600, atomically) for workers and clients; removed on exit")
    .option("--dashboard-port <port>", "Dashboard port (default 8787, or a free one)")
    .option("--dashboard-host <address>", "Dashboard address", { default: "127.0.0.1" })
    .option("--no-dashboard", "Do not serve the dashboard")
    .option("--allowed-failures <n>", "A task running on this many workers that died fails with KilledWorkerError", { default: 3 })
    .example("  skein scheduler --interface ib0 --secret-file ~/.skein/secret")
    .example("  skein scheduler --host 0.0.0.0 --port 0 --secret-file ~/.skein/secret --scheduler-file ~/.skein/scheduler.json")
    .action((options) => runScheduler(options));
  cli.command("worker [scheduler]", "Start worker processes (see: skein worker --help)");
  cli
    .command("job-script", "Print the job script the configured cluster would submit")
    .option("--config <path>", "Config file to use instead of skein.config.* here")
    .action((options) => runJobScript(options));
  cli
    .command("jobs <action> [...ids]", "List the jobs each cluster started (list), or cancel them (cancel <cluster-or-job-id…> | --orphaned | --all)")
    .option("--json", "list: print JSON")
    .option("--orphaned", "cancel: every cluster whose process on this host is gone")
    .option("--all", "cancel: every cluster in the ledger")
    .option("--force", "cancel: also clusters whose process is still running")
    .example("  skein jobs list")
    .example("  skein jobs cancel --orphaned")
    .action((action, ids, options) => runJobs(action, ids, options));
  cli
    .command("dashboard [scheduler]", "Print a running scheduler's dashboard link (token included) and open it in a browser")
    .option("--scheduler-file <path>", "Find the scheduler through its scheduler file (skein scheduler --scheduler-file)")
    .option("--no-open", "Only print the link")
    .example("  SKEIN_SECRET_FILE=~/.skein/secret skein dashboard ws://10.0.0.1:8786")
    .example("  skein dashboard --scheduler-file ~/.skein/scheduler.json")
    .action((scheduler, options) => runDashboard(scheduler, options));
  cli
    .command("info", "Show where the configuration comes from, the backend, and the worker command")
    .option("--config <path>", "Config file to use instead of skein.config.* here")
    .action((options) => runInfo(options));
  cli.help();
  cli.version(version());

  let parsed;
  try {
    parsed = cli.parse(["node", "skein", ...argv], { run: false });
  } catch (error) {
    process.stderr.write(`skein: ${(error as Error).message}\nRun skein --help for usage.\n`);
    return EXIT_CODES.USAGE;
  }
  if (parsed.options.help || parsed.options.version) return EXIT_CODES.OK;
  if (!cli.matchedCommand) {
    process.stderr.write(argv.length === 0 ? cliUsage() : `skein: unknown command "${argv[0]}"\n${cliUsage()}`);
    return EXIT_CODES.USAGE;
  }
  return (await cli.runMatchedCommand()) as number;
}

function cliUsage(): string {
  return "Usage: skein <scheduler|worker|job-script|jobs|dashboard|info> [options]\nRun skein --help for details.\n";
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // Skein's own errors already say "[skein] [component]"; anything else is a bug worth its stack.
    process.stderr.write(isSkeinError(error) ? `${error.message}\n` : `skein: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = isSkeinError(error) && error.code === "SKEIN_ERR_BAD_OPTION" ? EXIT_CODES.USAGE : EXIT_CODES.FAILURE;
  },
);
