import { describe, expect, it } from "vitest";
import { SKEIN_ERROR_CODES, type JobSpec } from "@skein/core";
import { createBackend, optionKeys, pbsBackend } from "./pbs-backend.js";

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

describe("pbs options", () => {
  it.each([
    [{ flavor: "sge" }, /option "flavor" from skein\.config\.yaml must be "torque" .* or "pbspro" .*got "sge"/],
    [{ queue: "my queue" }, /option "queue" from environment variable SKEIN_QUEUE must be a queue name without spaces, e\.g\. "batch", got "my queue"/],
    [{ resourceSpec: "-l nodes=1:ppn=4" }, /option "resourceSpec" from skein\.config\.yaml must be the text after "-l", e\.g\. "nodes=1:ppn=12"/],
    [{ jobExtraDirectives: ["#PBS -m abe"] }, /option "jobExtraDirectives\.0" from skein\.config\.yaml must be written without "#PBS", e\.g\. "-m abe"/],
    [{ jobExtraDirectives: "-m abe" }, /option "jobExtraDirectives" .*must be an array of directives/],
    [{ shebang: "/bin/tcsh" }, /option "shebang" .*must start with "#!", e\.g\. "#!\/bin\/tcsh", got "\/bin\/tcsh"/],
    [{ commands: { status: [] } }, /option "commands\.status" .*must not be empty/],
    [{ commands: { stat: ["qstat"] } }, /unknown option "commands\.stat"/],
    [{ submitCommandTimeout: 0 }, /option "submitCommandTimeout" .*must be more than 0 seconds, got 0/],
    [{ queu: "batch" }, /unknown option "queu" .*did you mean "queue"/],
  ])("rejects %j", (options, message) => {
    const error = (() => {
      try {
        createBackend(options, context);
      } catch (e) {
        return e as { code?: string; message: string };
      }
      return undefined;
    })();
    expect(error?.code).toBe(SKEIN_ERROR_CODES.BAD_OPTION);
    expect(error?.message).toMatch(message);
  });

  it("builds a backend named pbs whose script follows the options", () => {
    const backend = pbsBackend({ queue: "batch", account: "proj1", flavor: "pbspro", shebang: "#!/bin/tcsh" });
    expect(backend.name).toBe("pbs");
    expect(backend.capabilities).toEqual({ walltime: true, logs: true, remoteWorkers: true, arrays: true, multiNode: true });
    expect(typeof backend.submitArray).toBe("function");
    const script = backend.jobScript(job);
    expect(script.split("\n").slice(0, 5)).toEqual(["#!/bin/tcsh", "#PBS -N demo", "#PBS -q batch", "#PBS -A proj1", "#PBS -l select=1:ncpus=2"]);
  });

  it("lists every option it accepts in optionKeys", () => {
    for (const key of optionKeys) expect(() => createBackend({ [key]: Symbol("wrong") }, context)).toThrow(new RegExp(`option "${key}"`));
  });
});

describe("pbs nodes per job", () => {
  it("come from the resource request, so Cluster counts nodes × processes workers per job", () => {
    expect(pbsBackend({ resourceSpec: "nodes=2:ppn=12" }).nodesPerJob).toBe(2);
    expect(pbsBackend({ resourceSpec: "nodes=1:c18a:ppn=12" }).nodesPerJob).toBe(1);
    expect(pbsBackend({ resourceSpec: "select=3:ncpus=8:mem=16gb", flavor: "pbspro" }).nodesPerJob).toBe(3);
    expect(pbsBackend({}).nodesPerJob).toBeUndefined();
  });
});
