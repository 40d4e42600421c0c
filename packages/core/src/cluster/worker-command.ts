/** How jobs start a worker: the absolute path of this `node` and of the installed @skein/worker. */
import { createRequire } from "node:module";
import { join } from "node:path";
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
