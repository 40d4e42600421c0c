/** How jobs start a worker: the absolute path of this `node` and of the installed @skein/worker. */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { badOption } from "../errors.js";

const WORKER_BIN = "@skein/worker/bin";

/**
 * `[process.execPath, <abs>/@skein/worker/dist/bin.js]`, resolved from the working directory first
 * (the user's install) and then from this package. Absolute paths make a job independent of the
 * PATH and modules of the shell it runs in; on HPC the shared filesystem makes them valid on every node.
 */
export function defaultWorkerCommand(): string[] {
  for (const base of [join(process.cwd(), "noop.js"), import.meta.url]) {
    try {
      return [process.execPath, createRequire(base).resolve(WORKER_BIN)];
    } catch {
      // try the next place
    }
  }
  throw badOption(
    "cluster",
    "cannot find @skein/worker, which jobs run to start workers. Install it next to @skein/core (npm install @skein/worker), or set the workerCommand option.",
  );
}

/**
 * `[process.execPath, <abs>/@skein/cli/dist/cli.js]`: what the scheduler's job runs
 * (`scheduler: { inJob: true }`), found like the worker: from the working directory, then from here.
 */
export function defaultSchedulerCommand(): string[] {
  for (const base of [join(process.cwd(), "noop.js"), import.meta.url]) {
    try {
      const manifest = createRequire(base).resolve("@skein/cli/package.json");
      const bin = (JSON.parse(readFileSync(manifest, "utf8")) as { bin?: Record<string, string> }).bin?.skein;
      if (bin) return [process.execPath, join(dirname(manifest), bin)];
    } catch {
      // try the next place
    }
  }
  throw badOption(
    "cluster",
    "cannot find @skein/cli, whose `skein scheduler` runs in the scheduler's job (scheduler: { inJob: true }). Install it next to @skein/core (npm install @skein/cli), or set scheduler.command.",
  );
}
