import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { BatchCommandError, SKEIN_ERROR_CODES, asJobId, type JobId, type JobSpec } from "@skein/core";
import { createBackend, optionKeys, sgeBackend } from "./sge-backend.js";

const context = { sourceOf: (key: string) => (key === "queue" ? "environment variable SKEIN_QUEUE" : "skein.config.yaml"), baseDir: "/tmp" };
const dir = mkdtempSync(join(tmpdir(), "skein-sge-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, "secret"), "s\n", { mode: 0o600 });

const job: JobSpec = {
  name: "demo",
  workerProcesses: 1,
  threadsPerWorker: 1,
  cores: 2,
  memoryBytes: 8e9,
  schedulerAddress: "ws://h:1",
  secret: "s",
  secretFile: join(dir, "secret"),
  workerCommand: ["/usr/bin/node", "/bin.js"],
  workerArgs: [],
  env: {},
  prologue: [],
};

const fixture = (name: string): string => readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url), "utf8");

/** A date as qacct prints it (local time): "Wed Nov 25 18:02:11 2026". */
function qacctTime(date: Date): string {
  const [weekday, month, , year] = date.toDateString().split(" ");
  return `${weekday} ${month} ${String(date.getDate()).padStart(2)} ${date.toTimeString().slice(0, 8)} ${year}`;
}
/** A captured qacct record, submitted at `date`. */
const qacctRecord = (name: string, date: Date): string => fixture(name).replace(/^(qsub_time\s+).*$/m, `$1${qacctTime(date)}`);

/**
 * A bin dir of fake Grid Engine commands: each appends its argv (and, for qsub, its environment)
 * to a log and prints what the test gave it.
 */
function fakeBin(outputs: Partial<Record<"qsub" | "qstat" | "qdel" | "qacct", { stdout?: string; stderr?: string; exitCode?: number }>>): { binDir: string; calls(): string[]; env(): string } {
  const binDir = mkdtempSync(join(dir, "bin-"));
  for (const name of ["qsub", "qstat", "qdel", "qacct"] as const) {
    const out = outputs[name] ?? {};
    writeFileSync(join(binDir, `${name}.stdout`), out.stdout ?? "");
    writeFileSync(join(binDir, `${name}.stderr`), out.stderr ?? "");
    const dumpEnv = name === "qsub" ? `env > '${binDir}/qsub.env'\n` : "";
    writeFileSync(join(binDir, name), `#!/bin/sh\necho "${name} $*" >> '${binDir}/calls'\n${dumpEnv}cat '${binDir}/${name}.stdout'\ncat '${binDir}/${name}.stderr' >&2\nexit ${out.exitCode ?? 0}\n`);
    chmodSync(join(binDir, name), 0o755);
  }
  return {
    binDir,
    calls: () => readFileSync(join(binDir, "calls"), "utf8").split("\n").filter(Boolean),
    env: () => readFileSync(join(binDir, "qsub.env"), "utf8"),
  };
}

function errorOf(options: Record<string, unknown>): { code?: string; message: string } | undefined {
  try {
    createBackend(options, context);
  } catch (e) {
    return e as { code?: string; message: string };
  }
  return undefined;
}

describe("sge options", () => {
  it.each([
    [{ queue: "all q" }, /option "queue" from environment variable SKEIN_QUEUE must be a queue name without spaces, e\.g\. "all\.q", got "all q"/],
    [{ jobExtraDirectives: ["#$ -l gpu=1"] }, /option "jobExtraDirectives\.0" .*must be written without "#\$"/],
    [{ resourceSpec: "-l h_vmem=4G" }, /option "resourceSpec" .*must be the text after "-l"/],
    [{ memoryResource: "h vmem" }, /option "memoryResource" .*must be the name of a memory complex/],
    [{ memoryResource: true }, /option "memoryResource" .*must be the name of a memory complex/],
    [{ binDir: "opt/sge/bin" }, /option "binDir" .*must be an absolute path/],
    [{ shell: "bash" }, /option "shell" .*must be an absolute path/],
    [{ commands: { cancel: [] } }, /option "commands\.cancel" .*must not be empty/],
    [{ accounting: "yes" }, /option "accounting" .*must be true or false/],
    [{ statusCommandTimeout: 0 }, /option "statusCommandTimeout" .*more than 0 seconds/],
    [{ parallelEnviroment: "smp" }, /unknown option "parallelEnviroment" .*did you mean "parallelEnvironment"/],
  ])("rejects %j", (options, message) => {
    const error = errorOf(options);
    expect(error?.code).toBe(SKEIN_ERROR_CODES.BAD_OPTION);
    expect(error?.message).toMatch(message);
  });

  it("lists every option it accepts in optionKeys", () => {
    for (const key of optionKeys) expect(errorOf({ [key]: Symbol("wrong") })?.message).toMatch(new RegExp(`option "${key}"`));
  });

  it("builds a backend named sge that enforces walltime, has logs, and runs workers elsewhere", () => {
    const backend = sgeBackend({});
    expect(backend.name).toBe("sge");
    expect(backend.capabilities).toMatchObject({ walltime: true, logs: true, remoteWorkers: true });
    expect(typeof backend.cancelSync).toBe("function");
  });

  it("writes the memory per slot as the chosen complex", () => {
    expect(sgeBackend({}).jobScript(job)).toContain("#$ -l h_vmem=4g\n");
    expect(sgeBackend({ memoryResource: "mem_free" }).jobScript(job)).toContain("#$ -l mem_free=4g\n");
    expect(sgeBackend({ memoryResource: false }).jobScript(job)).not.toMatch(/-l \w+=4g/);
    expect(sgeBackend({ parallelEnvironment: "threads" }).jobScript(job)).toContain("#$ -pe threads 2\n");
  });
});

describe("sge commands (fake qsub/qstat/qdel/qacct)", () => {
  const saved = process.env.SKEIN_SECRET;
  afterEach(() => {
    if (saved === undefined) delete process.env.SKEIN_SECRET;
    else process.env.SKEIN_SECRET = saved;
  });

  it("submits with qsub -terse -V -cwd -w e -j y -o <file> <script>, from binDir, without SKEIN_SECRET in qsub's environment", async () => {
    const fake = fakeBin({ qsub: { stdout: fixture("qsub-terse.txt") } });
    process.env.SKEIN_SECRET = "must-not-reach-qsub";
    const id = await sgeBackend({ binDir: fake.binDir }).submit(job);
    expect(id).toBe("15");
    const [call] = fake.calls();
    expect(call).toMatch(new RegExp(`^qsub -terse -V -cwd -w e -j y -o ${dir}/jobs/demo-[0-9a-f]{8}\\.out /\\S+/demo-[0-9a-f]{8}\\.sh$`));
    // -V copies qsub's environment into the job, where `qstat -j` shows it to other users.
    expect(fake.env()).not.toContain("must-not-reach-qsub");
    expect(fake.env()).not.toMatch(/^SKEIN_SECRET=/m);
  });

  it("reports qsub's refusal with its command, exit code and stderr", async () => {
    const refused = JSON.parse(fixture("qsub-no-suitable-queues.json")) as { stdout: string; stderr: string; exitCode: number };
    const fake = fakeBin({ qsub: refused });
    const error = await sgeBackend({ binDir: fake.binDir }).submit(job).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(BatchCommandError);
    expect(error).toMatchObject({ exitCode: 1, stderr: expect.stringContaining("no suitable queues") });
  });

  it("polls all jobs with one qstat -xml; a job qstat no longer lists has exited, with qacct's exit status", async () => {
    const fake = fakeBin({ qsub: { stdout: "22\n" }, qstat: { stdout: fixture("qstat-xml-many.txt") }, qacct: { stdout: qacctRecord("qacct-h_rt.txt", new Date()) } });
    const backend = sgeBackend({ binDir: fake.binDir });
    const id = await backend.submit(job);
    const states = await backend.status([asJobId("8"), asJobId("7"), id]);
    expect(states.get(asJobId("8"))).toEqual({ state: "running", host: "vm" });
    expect(states.get(asJobId("7"))).toMatchObject({ state: "queued", reason: expect.stringMatching(/^error state Eqw/) });
    expect(states.get(id)).toEqual({
      state: "exited",
      exitCode: 137,
      reason: "killed by Grid Engine at a hard limit (h_rt walltime, h_cpu or h_vmem); qacct: failed 37 (qmaster enforced h_rt, h_cpu, or h_vmem limit)",
    });
    // The record is kept: qacct is not asked again.
    await backend.status([id]);
    expect(fake.calls().filter((c) => c.startsWith("qacct"))).toEqual(["qacct -j 22"]);
    expect(fake.calls().filter((c) => c.startsWith("qstat"))).toEqual(["qstat -xml", "qstat -xml"]);
  });

  it("without an accounting record (or with accounting off) a finished job has exited with exit code null", async () => {
    const notFound = JSON.parse(fixture("qacct-unknown.json")) as { stdout: string; stderr: string; exitCode: number };
    const fake = fakeBin({ qsub: { stdout: "22\n" }, qstat: { stdout: fixture("qstat-xml-empty.txt") }, qacct: notFound });
    for (const accounting of [true, false]) {
      const backend = sgeBackend({ binDir: fake.binDir, accounting });
      const id = await backend.submit(job);
      expect((await backend.status([id])).get(id)).toEqual({ state: "exited", exitCode: null, reason: "no longer known to sge" });
    }
    expect(fake.calls().filter((c) => c.startsWith("qacct"))).toEqual(["qacct -j 22"]);
  });

  it("qacctTime writes qacct's format", () => {
    expect(qacctTime(new Date(2026, 10, 5, 8, 2, 11))).toBe("Thu Nov  5 08:02:11 2026");
  });

  it("ignores an accounting record from before its own submission (a reused job id)", async () => {
    const old = qacctRecord("qacct-h_rt.txt", new Date(Date.now() - 3600_000));
    const fake = fakeBin({ qsub: { stdout: "22\n" }, qstat: { stdout: fixture("qstat-xml-empty.txt") }, qacct: { stdout: old } });
    const backend = sgeBackend({ binDir: fake.binDir });
    const id = await backend.submit(job);
    expect((await backend.status([id])).get(id)).toEqual({ state: "exited", exitCode: null, reason: "no longer known to sge" });
  });

  it("cancel: qdel's exit 1 is not a failure when its verdicts cover every id, even while a job is still in dr", async () => {
    const again = JSON.parse(fixture("qdel-again.json")) as { stdout: string; stderr: string; exitCode: number };
    const stillThere = fixture("qstat-xml-array.txt"); // 13 still listed (running), 9 too: qstat lags qdel
    const fake = fakeBin({ qdel: again, qstat: { stdout: stillThere } });
    await expect(sgeBackend({ binDir: fake.binDir }).cancel([asJobId("13"), asJobId("9")])).resolves.toBeUndefined();
    expect(fake.calls()).toEqual(["qdel 13 9", "qstat -xml"]);
  });

  it("cancel: a qdel failure that is not a verdict is reported", async () => {
    const fake = fakeBin({
      qdel: { stdout: "", stderr: 'error: commlib error: got select error (Connection refused)\nunable to send message to qmaster using port 6444 on host "vm": got send error\n', exitCode: 1 },
      qstat: { stdout: fixture("qstat-xml-many.txt") },
    });
    await expect(sgeBackend({ binDir: fake.binDir }).cancel([asJobId("8")])).rejects.toThrow(/qdel 8 failed with exit code 1, and 8 is still there/);
  });

  it("cancel of ids that are all gone resolves", async () => {
    const unknown = JSON.parse(fixture("qdel-unknown.json")) as { stdout: string; stderr: string; exitCode: number };
    const fake = fakeBin({ qdel: unknown, qstat: { stdout: fixture("qstat-xml-empty.txt") } });
    await expect(sgeBackend({ binDir: fake.binDir }).cancel([asJobId("99999")])).resolves.toBeUndefined();
  });

  it("submitArray: qsub -t 1-N with one output file per task ($TASK_ID); elements job.task", async () => {
    const fake = fakeBin({ qsub: { stdout: fixture("qsub-terse-array-3.txt") } });
    const backend = sgeBackend({ binDir: fake.binDir });
    expect(backend.capabilities).toMatchObject({ arrays: true });
    const array = await backend.submitArray?.({ ...job, arraySize: 3 });
    expect(array).toEqual({ id: "183", elements: ["183.1", "183.2", "183.3"] });
    const [call] = fake.calls();
    // qsub gets $TASK_ID literally (no shell in between) and Grid Engine expands it.
    expect(call).toMatch(new RegExp(`^qsub -terse -V -cwd -w e -j y -o ${dir}/jobs/demo-[0-9a-f]{8}\\.\\$TASK_ID\\.out -t 1-3 /\\S+/demo-[0-9a-f]{8}\\.sh$`));
  });

  it("status of elements and arrays from one qstat -xml; elements that left qstat get their task's qacct record, one qacct per array", async () => {
    // All three tasks of 183 in qacct, submitted now.
    const accounting = fixture("qacct-array.txt").replace(/^(qsub_time\s+).*$/gm, `$1${qacctTime(new Date())}`);
    const fake = fakeBin({ qsub: { stdout: fixture("qsub-terse-array-3.txt") }, qstat: { stdout: fixture("qstat-xml-array-tasks.txt") }, qacct: { stdout: accounting } });
    const backend = sgeBackend({ binDir: fake.binDir });
    const { elements } = (await backend.submitArray?.({ ...job, arraySize: 3 })) as { elements: readonly JobId[] };
    const listed = await backend.status([...elements, asJobId("184.2"), asJobId("186.5"), asJobId("186")]);
    expect(Object.fromEntries(listed)).toEqual({
      "183.1": { state: "running", host: "vm" },
      "183.2": { state: "running", host: "vm" },
      "183.3": { state: "running", host: "vm" },
      "184.2": { state: "queued", reason: "held (hqw)" },
      "186.5": { state: "queued", reason: "held (hqw)" },
      "186": { state: "queued", reason: "held (hqw)" },
    });
    writeFileSync(join(fake.binDir, "qstat.stdout"), fixture("qstat-xml-empty.txt"));
    const gone = await backend.status(elements);
    expect(Object.fromEntries(gone)).toEqual({
      "183.1": { state: "exited", exitCode: 0 },
      "183.2": { state: "exited", exitCode: 137, reason: "killed (qdel); qacct: failed 100 (assumedly after job)" },
      "183.3": { state: "exited", exitCode: 3 },
    });
    expect(fake.calls().filter((c) => c.startsWith("qacct"))).toEqual(["qacct -j 183"]);
  });

  it("cancel of elements: qdel's exit 1 is settled by its verdicts, a task in deletion named by its job only", async () => {
    const inDeletion = JSON.parse(fixture("qdel-array-task-in-deletion.json")) as { stdout: string; stderr: string; exitCode: number };
    const fake = fakeBin({ qdel: inDeletion, qstat: { stdout: fixture("qstat-xml-array-after-qdel.txt") } });
    await expect(sgeBackend({ binDir: fake.binDir }).cancel([asJobId("183.2"), asJobId("184.3")])).resolves.toBeUndefined();
    expect(fake.calls()).toEqual(["qdel 183.2 184.3", "qstat -xml"]);
  });

  it("a qmaster that does not answer is a failed status command, not 'all jobs ended'", async () => {
    const down = JSON.parse(fixture("qstat-xml-qmaster-down.json")) as { stdout: string; stderr: string; exitCode: number };
    const fake = fakeBin({ qstat: down });
    const error = await sgeBackend({ binDir: fake.binDir }).status([asJobId("1")]).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(BatchCommandError);
    expect(error).toMatchObject({ exitCode: 1, stderr: expect.stringContaining("unable to send message to qmaster") });
  });

  it("a qstat without -xml is reported, not taken for 'no jobs'", async () => {
    const fake = fakeBin({ qstat: { stdout: "" } });
    await expect(sgeBackend({ binDir: fake.binDir }).status([asJobId("1")])).rejects.toThrow(/expected the XML of `qstat -xml`/);
  });
});
