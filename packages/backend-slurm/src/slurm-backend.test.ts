import { describe, expect, it } from "vitest";
import { SKEIN_ERROR_CODES, type JobSpec } from "@skein/core";
import { createBackend, optionKeys, slurmBackend } from "./slurm-backend.js";

const context = { sourceOf: (key: string) => (key === "queue" ? "environment variable SKEIN_QUEUE" : "skein.config.yaml"), baseDir: "/tmp" };
const job: JobSpec = {
  name: "demo",
  workerProcesses: 1,
  threadsPerWorker: 1,
  cores: 2,
  schedulerAddress: "ws://h:1",
  secret: "s",
  secretFile: "/tmp/secret",
  workerCommand: ["/usr/bin/node", "/bin.js"],
  workerArgs: [],
  env: {},
  prologue: [],
};

function errorOf(options: Record<string, unknown>): { code?: string; message: string } | undefined {
  try {
    createBackend(options, context);
  } catch (e) {
    return e as { code?: string; message: string };
  }
  return undefined;
}

describe("slurm options", () => {
  it.each([
    [{ partition: "a b" }, /option "partition" from skein\.config\.yaml must be a partition name without spaces, e\.g\. "batch", got "a b"/],
    [{ jobExtraDirectives: ["#SBATCH --exclusive"] }, /option "jobExtraDirectives\.0" .*must be written without "#SBATCH"/],
    [{ commands: { submit: [] } }, /option "commands\.submit" .*must not be empty/],
    [{ statusCommandTimeout: -1 }, /option "statusCommandTimeout" .*more than 0 seconds/],
    [{ partiton: "batch" }, /unknown option "partiton" .*did you mean "partition"/],
    [{ queue: "batch", partition: "debug" }, /options "queue" \("batch", from environment variable SKEIN_QUEUE\) and "partition" \("debug", from skein\.config\.yaml\) name different partitions/],
  ])("rejects %j", (options, message) => {
    const error = errorOf(options);
    expect(error?.code).toBe(SKEIN_ERROR_CODES.BAD_OPTION);
    expect(error?.message).toMatch(message);
  });

  it("takes queue as the partition, as dask-jobqueue does", () => {
    expect(slurmBackend({ queue: "batch" }).jobScript(job)).toContain("#SBATCH --partition=batch\n");
    expect(slurmBackend({ queue: "batch", partition: "batch" }).jobScript(job)).toContain("#SBATCH --partition=batch\n");
  });

  it("builds a backend named slurm", () => {
    const backend = slurmBackend({});
    expect(backend.name).toBe("slurm");
    expect(backend.capabilities).toEqual({ walltime: true, logs: true, remoteWorkers: true, arrays: true, multiNode: true });
  });

  it("lists every option it accepts in optionKeys", () => {
    for (const key of optionKeys) expect(errorOf({ [key]: Symbol("wrong") })?.message).toMatch(new RegExp(`option "${key}"`));
  });
});
