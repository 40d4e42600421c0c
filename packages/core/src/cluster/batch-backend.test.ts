import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SKEIN_ERROR_CODES } from "@skein/serialization";
import { asJobId, type JobSpec, type JobState } from "./backend.js";
import { BatchCommandError, batchJobScript, createBatchBackend, formatCommand, quoteWord, type BatchBackendDefinition } from "./batch-backend.js";

const dir = mkdtempSync(join(tmpdir(), "skein-batch-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SHELLS = ["sh", "bash", "tcsh"].filter((shell) => {
  const found = spawnSync("which", [shell]).status === 0;
  if (!found && process.env.CI) throw new Error(`${shell} is needed for the job-script tests; install it (tools/test-cluster.sh start installs tcsh)`);
  if (!found) console.warn(`[skein] ${shell} not installed: job scripts are not checked under it (apt-get install ${shell})`);
  return found;
});

function script(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o700 });
  chmodSync(path, 0o700);
  return path;
}

const job = (overrides: Partial<JobSpec> = {}): JobSpec => ({
  name: "exDaskCluster",
  workerProcesses: 2,
  threadsPerWorker: 1,
  cores: 2,
  schedulerAddress: "ws://10.0.0.1:8786",
  secret: "the-secret-itself",
  secretFile: join(dir, "clusters", "x", "secret"),
  workerCommand: ["/usr/bin/node", "/opt/skein/node_modules/@skein/worker/dist/bin.js"],
  workerArgs: ["ws://10.0.0.1:8786", "--nworkers", "2", "--name", "exDaskCluster-0"],
  env: {},
  prologue: [],
  ...overrides,
});

describe("quoteWord", () => {
  const words = ["plain", "a b", "it's", "x!y", "!", "$HOME", "`ls`", "a\\b", "a\\", "*", "~", "{}", '"q"', "", "setTimeout(() => {}, 10)", "ws://h:1/?a=1&b=2", "semi;colon|pipe"];

  it.each(SHELLS)("reads back every word unchanged under %s", (shell) => {
    const path = script(`words-${shell}`, `printf '[%s]\\n' ${words.map(quoteWord).join(" ")}\n`);
    const result = spawnSync(shell, [path], { encoding: "utf8" });
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe(words.map((w) => `[${w}]\n`).join(""));
  });

  it("leaves safe words bare and refuses newlines, which tcsh cannot quote", () => {
    expect(quoteWord("/usr/bin/node")).toBe("/usr/bin/node");
    expect(quoteWord("--nworkers")).toBe("--nworkers");
    expect(() => quoteWord("a\nb")).toThrow(/newlines/);
  });
});

describe("formatCommand", () => {
  it("quotes for sh only where needed", () => {
    expect(formatCommand(["qsub", "-o", "/tmp/a b.out", "it's"])).toBe(`qsub -o '/tmp/a b.out' 'it'"'"'s'`);
  });
});

describe("batchJobScript", () => {
  const text = batchJobScript({
    shebang: "#!/bin/tcsh",
    directives: ["#PBS -N exDaskCluster", "#PBS -j oe"],
    job: job({ env: { OMP_NUM_THREADS: "1", GREETING: "it's here!" }, prologue: ["echo prologue ran"], logDirectory: "/tmp/logs dir" }),
  });

  it("is shebang, directives, prologue, cd, then exec env with the secret file and the worker", () => {
    const lines = text.trimEnd().split("\n");
    expect(lines[0]).toBe("#!/bin/tcsh");
    expect(lines.slice(1, 3)).toEqual(["#PBS -N exDaskCluster", "#PBS -j oe"]);
    expect(lines).toContain("echo prologue ran");
    expect(lines).toContain("cd '/tmp/logs dir'");
    expect(lines.at(-1)).toBe(
      `exec env SKEIN_SECRET_FILE=${dir}/clusters/x/secret OMP_NUM_THREADS=1 'GREETING=it'"'"'s here'\\!'' /usr/bin/node /opt/skein/node_modules/@skein/worker/dist/bin.js ws://10.0.0.1:8786 --nworkers 2 --name exDaskCluster-0`,
    );
  });

  it("never contains the secret, export, or $PBS_ variables", () => {
    expect(text).not.toContain("the-secret-itself");
    expect(text).not.toMatch(/\bexport\b|\$PBS_|\$\{/);
  });

  it("points SKEIN_SECRET_FILE at the cluster's file even when env names another", () => {
    const script = batchJobScript({ shebang: "#!/bin/sh", directives: [], job: job({ env: { SKEIN_SECRET_FILE: "/elsewhere" } }) });
    expect(script).toContain(`exec env SKEIN_SECRET_FILE=${dir}/clusters/x/secret /usr/bin/node`);
    expect(script).not.toContain("/elsewhere");
  });

  it("refuses an environment variable name the shells cannot take", () => {
    expect(() => batchJobScript({ shebang: "#!/bin/sh", directives: [], job: job({ env: { "BAD-NAME": "x" } }) })).toThrow(/BAD-NAME/);
  });

  it.each(SHELLS)("passes %s -n", (shell) => {
    const result = spawnSync(shell, ["-n", script(`syntax-${shell}`, text)], { encoding: "utf8" });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it.each(SHELLS)("runs under %s: the worker gets its environment and its words unchanged", (shell) => {
    const logs = mkdtempSync(join(dir, "logs-"));
    const runnable = batchJobScript({
      shebang: `#!/usr/bin/env ${shell}`,
      directives: ["#PBS -N exDaskCluster"],
      job: job({ env: { GREETING: "it's here!" }, prologue: ["echo prologue ran"], logDirectory: logs, workerCommand: ["/usr/bin/env"], workerArgs: ["/bin/sh", "-c", 'echo "pwd=$(pwd) file=$SKEIN_SECRET_FILE greeting=$GREETING"', "ignored"] }),
    });
    const result = spawnSync(shell, [script(`run-${shell}`, runnable)], { encoding: "utf8", env: { PATH: process.env.PATH } });
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe(`prologue ran\npwd=${logs} file=${dir}/clusters/x/secret greeting=it's here!\n`);
  });
});

describe("createBatchBackend error paths (fake commands: the real systems cannot fail this way on demand)", () => {
  const states = (stdout: string): Map<string, JobState> => {
    const map = new Map<string, JobState>();
    for (const line of stdout.split("\n").filter(Boolean)) {
      const [id, state] = line.split(" ");
      if (!id || state !== "R") throw new Error(`bad line ${JSON.stringify(line)}`);
      map.set(id, { state: "running" });
    }
    return map;
  };
  const backend = (commands: Partial<BatchBackendDefinition["commands"]>, timeouts = {}) =>
    createBatchBackend({
      name: "fake",
      commands: { submit: ["true"], status: ["true"], cancel: ["true"], ...commands },
      timeouts,
      jobScript: (j) => batchJobScript({ shebang: "#!/bin/sh", directives: [], job: j }),
      submitArgs: (_j, out) => ["-o", out],
      parseSubmitOutput: (stdout) => {
        if (!/^\d+$/.test(stdout.trim())) throw new Error(`expected a number, got ${JSON.stringify(stdout)}`);
        return asJobId(stdout.trim());
      },
      parseStatusOutput: states,
      isUnknownJobExit: (r) => r.exitCode === 153 && r.stderr === "",
    });
  const caught = async (promise: Promise<unknown>): Promise<BatchCommandError> => {
    const error = await promise.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(BatchCommandError);
    expect((error as BatchCommandError).code).toBe(SKEIN_ERROR_CODES.COMMAND_FAILED);
    return error as BatchCommandError;
  };

  it("kills a status command that hangs and says so", async () => {
    const hang = script("hang", "#!/bin/sh\nexec sleep 30\n");
    const started = Date.now();
    const error = await caught(backend({ status: [hang] }, { status: 300 }).status([asJobId("1")]));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(error.message).toContain("did not finish within 0.3 s");
    expect(error.command).toBe(`${hang} 1`);
  });

  it("reports status output it cannot parse, with the output", async () => {
    const garbage = script("garbage", "#!/bin/sh\necho '<html>maintenance</html>'\n");
    const error = await caught(backend({ status: [garbage] }).status([asJobId("1")]));
    expect(error.message).toMatch(/cannot read: bad line/);
    expect(error.stdout).toBe("<html>maintenance</html>");
    expect(error.exitCode).toBe(0);
  });

  it("reports a failing status command with its exit code and stderr, but reads a parsed 'unknown job' exit as an answer", async () => {
    const down = script("down", "#!/bin/sh\necho 'cannot connect to server' >&2\nexit 153\n");
    const error = await caught(backend({ status: [down] }).status([asJobId("1")]));
    expect([error.exitCode, error.stderr]).toEqual([153, "cannot connect to server"]);
    const unknown = script("unknown", "#!/bin/sh\necho '2 R'\nexit 153\n");
    const answer = await backend({ status: [unknown] }).status([asJobId("1"), asJobId("2")]);
    expect(answer.get(asJobId("1"))).toEqual({ state: "exited", exitCode: null, reason: "no longer known to fake" });
    expect(answer.get(asJobId("2"))).toEqual({ state: "running" });
  });

  it("reports a submit command that exits 0 without a job id, and one that cannot be found", async () => {
    const chatty = script("chatty", "#!/bin/sh\necho 'submitted, maybe'\n");
    const error = await caught(backend({ submit: [chatty] }).submit(job()));
    expect(error.message).toMatch(/printed no job id Skein can read, so a job named exDaskCluster may have been submitted all the same: look for it in the batch system.s queue and cancel it there\. expected a number/);
    const missing = await caught(backend({ submit: [join(dir, "no-such-qsub")] }).submit(job()));
    expect(missing.message).toMatch(/could not run: .*ENOENT/);
  });

  it("keeps a cancel failure when status says the job is still there", async () => {
    const refuse = script("refuse", "#!/bin/sh\necho 'permission denied' >&2\nexit 1\n");
    const running = script("running", "#!/bin/sh\nfor id; do echo \"$id R\"; done\n");
    const error = await caught(backend({ cancel: [refuse], status: [running] }).cancel([asJobId("7")]));
    expect(error.message).toContain("7 is still there");
    expect(error.stderr).toBe("permission denied");
  });
});

describe("batchJobScript for job arrays and jobs on several nodes", () => {
  const launcher = ["srun", "--nodes=2", "--ntasks=2", "--ntasks-per-node=1", "--cpus-per-task=2"];
  const last = (text: string) => text.trimEnd().split("\n").at(-1);

  it("lets the worker append the array index to its name (--name-env), without shell code", () => {
    const text = batchJobScript({ shebang: "#!/bin/sh", directives: [], job: job({ arraySize: 4 }), arrayIndexVariables: ["PBS_ARRAYID", "SLURM_ARRAY_TASK_ID"] });
    expect(last(text)).toBe(`exec env SKEIN_SECRET_FILE=${dir}/clusters/x/secret /usr/bin/node /opt/skein/node_modules/@skein/worker/dist/bin.js ws://10.0.0.1:8786 --nworkers 2 --name exDaskCluster-0 --name-env PBS_ARRAYID,SLURM_ARRAY_TASK_ID`);
  });

  it("starts one supervisor per node through the launcher, with env by its absolute path", () => {
    const text = batchJobScript({ shebang: "#!/bin/sh", directives: [], job: job({ nodes: 2, arraySize: 3 }), arrayIndexVariables: ["SLURM_ARRAY_TASK_ID"], multiNode: { launcher, nodeIndexVariables: ["SLURM_NODEID"] } });
    expect(last(text)).toBe(
      `exec ${launcher.join(" ")} /usr/bin/env SKEIN_SECRET_FILE=${dir}/clusters/x/secret /usr/bin/node /opt/skein/node_modules/@skein/worker/dist/bin.js ws://10.0.0.1:8786 --nworkers 2 --name exDaskCluster-0 --name-env SLURM_ARRAY_TASK_ID --name-env SLURM_NODEID`,
    );
  });

  it("leaves a one-node job without launcher, and refuses what the backend cannot do", () => {
    expect(last(batchJobScript({ shebang: "#!/bin/sh", directives: [], job: job({ nodes: 1 }), multiNode: { launcher, nodeIndexVariables: ["SLURM_NODEID"] } }))).toMatch(/^exec env /);
    expect(() => batchJobScript({ shebang: "#!/bin/sh", directives: [], job: job({ arraySize: 2 }) })).toThrow(/job array/);
    expect(() => batchJobScript({ shebang: "#!/bin/sh", directives: [], job: job({ nodes: 2 }) })).toThrow(/2 nodes/);
  });

  it.each(SHELLS)("a multi-node script whose launcher is sh -c passes %s -n and runs the command once", (shell) => {
    const shLauncher = ["sh", "-c", 'if command -v no-such-pbsdsh >/dev/null 2>&1; then exec no-such-pbsdsh -u "$@"; fi; exec "$@"', "skein-nodes"];
    const text = batchJobScript({
      shebang: `#!/usr/bin/env ${shell}`,
      directives: [],
      job: job({ nodes: 2, env: { GREETING: "it's!" }, workerCommand: ["/bin/sh"], workerArgs: ["-c", 'echo "greeting=$GREETING args=$*"', "zero", "a b"] }),
      multiNode: { launcher: shLauncher, nodeIndexVariables: ["SLURM_NODEID"] },
    });
    const path = script(`multinode-${shell}`, text);
    expect(spawnSync(shell, ["-n", path], { encoding: "utf8" }).status).toBe(0);
    const result = spawnSync(shell, [path], { encoding: "utf8", env: { PATH: process.env.PATH } });
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe("greeting=it's! args=a b --name-env SLURM_NODEID\n");
  });
});

describe("createBatchBackend with job arrays (fake qsub)", () => {
  it("submits one array, names its elements, and finds each element's own output file", async () => {
    const calls = join(dir, "array-calls");
    const qsub = script("array-qsub", `#!/bin/sh\nprintf '%s\\n' "$*" > '${calls}'\necho 12\n`);
    const backend = createBatchBackend({
      name: "fake",
      commands: { submit: [qsub], status: ["true"], cancel: ["true"] },
      arrays: { submitArgs: (n) => [`--array=1-${n}`], indexPlaceholder: "%a", elementIds: (id, n) => Array.from({ length: n }, (_, i) => asJobId(`${id}_${i + 1}`)) },
      jobScript: (j) => batchJobScript({ shebang: "#!/bin/sh", directives: [], job: j, arrayIndexVariables: ["SLURM_ARRAY_TASK_ID"] }),
      submitArgs: (_j, out) => [`--output=${out}`],
      parseSubmitOutput: (stdout) => asJobId(stdout.trim()),
      parseStatusOutput: () => new Map(),
      isUnknownJobExit: () => false,
    });
    expect(backend.capabilities.arrays).toBe(true);
    const logDirectory = mkdtempSync(join(dir, "array-logs-"));
    const submitted = await backend.submitArray?.({ ...job({ logDirectory }), arraySize: 3 });
    expect(submitted).toEqual({ id: "12", elements: ["12_1", "12_2", "12_3"] });
    const argv = spawnSync("cat", [calls], { encoding: "utf8" }).stdout.trim().split(" ");
    const pattern = argv[0]?.replace("--output=", "") ?? "";
    expect(pattern).toMatch(/\/exDaskCluster-[0-9a-f]{8}\.%a\.out$/);
    expect(argv[1]).toBe("--array=1-3");
    // What Slurm (and its Torque wrappers) write for element 2, and what Torque writes for element 3.
    writeFileSync(pattern.replace("%a", "2"), "element two\n");
    writeFileSync(`${pattern}-3`, "element three\n");
    expect((await backend.logs?.(asJobId("12_2")))?.stdout).toBe("element two\n");
    expect((await backend.logs?.(asJobId("12_3")))?.stdout).toBe("element three\n");
  });

  it("has no submitArray without arrays: other backends are unchanged", () => {
    const backend = createBatchBackend({
      name: "plain",
      commands: { submit: ["true"], status: ["true"], cancel: ["true"] },
      jobScript: (j) => batchJobScript({ shebang: "#!/bin/sh", directives: [], job: j }),
      submitArgs: () => [],
      parseSubmitOutput: (stdout) => asJobId(stdout.trim()),
      parseStatusOutput: () => new Map(),
      isUnknownJobExit: () => false,
    });
    expect(backend.submitArray).toBeUndefined();
    expect(backend.capabilities).toEqual({ walltime: true, logs: true, remoteWorkers: true });
    expect(backend.nodesPerJob).toBeUndefined();
  });
});
