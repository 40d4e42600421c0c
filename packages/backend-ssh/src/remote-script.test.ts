import { existsSync } from "node:fs";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import type { JobSpec } from "@skein/core";
import { PID_MARKER, loginShellQuote, parsePidLine, remoteCommand, remoteScript, shWord, workerCommandFor } from "./remote-script.js";

const SECRET = "s3cr3t-'\"$HOME`!-value";

/**
 * Stands in for `node bin.js`: prints its own argv (from /proc, as `ps` would show it), its
 * environment, its pid, and then whatever is left on its stdin.
 */
const FAKE_WORKER = ["/bin/sh", "-c", 'echo "pid=$$"; tr "\\000" "\\n" < /proc/$$/cmdline; echo "---env"; env; echo "---stdin"; cat', "fake-worker"];

function jobSpec(overrides: Partial<JobSpec> = {}): JobSpec {
  return {
    name: "skein",
    workerProcesses: 2,
    threadsPerWorker: 1,
    cores: 2,
    schedulerAddress: "ws://vm:8786",
    secret: SECRET,
    workerCommand: FAKE_WORKER,
    workerArgs: ["ws://vm:8786", "--nworkers", "2", "--name", "skein-0"],
    env: {},
    prologue: [],
    ...overrides,
  };
}

/** Run the script the way sshd does: `<login shell> -c <remote command>`, with the secret as stdin's first line. */
async function runAsSshd(script: string, shell = "/bin/sh") {
  const result = await execa(shell, ["-c", remoteCommand(script)], { input: `${SECRET}\nleft on stdin\n`, reject: false, env: { PATH: "/usr/bin:/bin", HOME: "/home/nobody" }, extendEnv: false });
  const [head = "", rest = ""] = result.stdout.split("---env\n");
  const [env = "", stdin = ""] = rest.split("---stdin\n");
  const lines = head.split("\n");
  const afterPid = lines.slice(lines.findIndex((l) => l.startsWith("pid=")) + 1);
  return {
    exitCode: result.exitCode,
    stderr: result.stderr,
    markerPid: parsePidLine(lines[0] ?? ""),
    lines,
    pid: Number(lines.find((l) => l.startsWith("pid="))?.slice(4)),
    /** The worker's argv as text: words end in newlines (and some words hold newlines themselves). */
    argvText: afterPid.join("\n"),
    env: Object.fromEntries(env.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)])),
    stdin,
  };
}

const NASTY = ["two words", "it's", 'say "hi"', "$HOME", "`id`", "$(id)", "wow!", "!!", "a\nb", "\n", "*", "back\\slash", "", "%C", "tab\there", "ünï", "--x=1;rm -rf ~"];
const SHELLS = ["/bin/sh", "/bin/bash", "/usr/bin/tcsh", "/bin/tcsh", "/usr/bin/zsh"].filter((s) => existsSync(s));

describe("remoteScript", () => {
  it("is one line without the secret, starting with the pid marker", () => {
    const script = remoteScript(jobSpec({ prologue: ["module load node", "echo ok"], env: { A: "x\ny" } }));
    expect(script).not.toContain("\n");
    expect(script).not.toContain(SECRET);
    expect(script).toMatch(new RegExp(`echo ${PID_MARKER}\\$\\$`));
    expect(script).toMatch(/ --watch-stdin$/);
  });

  it("delivers the secret in the environment only, and keeps stdin open for the worker", async () => {
    const run = await runAsSshd(remoteScript(jobSpec()));
    expect(run.stderr).toBe("");
    expect(run.exitCode).toBe(0);
    expect(run.env.SKEIN_SECRET).toBe(SECRET);
    expect(run.argvText).not.toContain("s3cr3t");
    expect(run.argvText).toBe(["/bin/sh", "-c", FAKE_WORKER[2], "fake-worker", "ws://vm:8786", "--nworkers", "2", "--name", "skein-0", "--watch-stdin", ""].join("\n"));
    expect(run.stdin).toBe("left on stdin");
  });

  it("with a TLS file, reads the certificate from stdin's second line into SKEIN_TLS_PEM, not from the file", async () => {
    const script = remoteScript(jobSpec({ env: { SKEIN_TLS_FILE: "/home/u/.skein/clusters/x/tls.pem", OTHER: "1" } }));
    expect(script).not.toContain("tls.pem");
    const run = await runAsSshd(script);
    expect(run.exitCode).toBe(0);
    // runAsSshd sends the secret, then "left on stdin": here the second line is taken as the certificate.
    expect(run.env.SKEIN_TLS_PEM).toBe("left on stdin");
    expect(run.env.SKEIN_TLS_FILE).toBeUndefined();
    expect(run.env.OTHER).toBe("1");
    expect(run.stdin).toBe("");
  });

  it("prints the pid the worker keeps (the script execs it)", async () => {
    const run = await runAsSshd(remoteScript(jobSpec()));
    expect(run.markerPid).toBeGreaterThan(0);
    expect(run.markerPid).toBe(run.pid);
  });

  it.each(SHELLS)("passes every word through the login shell %s unchanged", async (shell) => {
    const job = jobSpec({
      workerArgs: NASTY,
      env: { SKEIN_LOCAL_DIRECTORY: "/scratch/my dir", WEIRD: NASTY.join("|") },
      prologue: ["if ! false; then", "  echo \"prologue ran!\" >&2", "fi", "read x; echo \"prologue read [$x]\" >&2"],
    });
    const run = await runAsSshd(remoteScript(job), shell);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toBe("prologue ran!\nprologue read []");
    expect(run.argvText).toBe(["/bin/sh", "-c", FAKE_WORKER[2], "fake-worker", ...NASTY, "--watch-stdin", ""].join("\n"));
    expect(run.env.SKEIN_LOCAL_DIRECTORY).toBe("/scratch/my dir");
    expect(run.env.SKEIN_SECRET).toBe(SECRET);
    expect(run.stdin).toBe("left on stdin");
  });

  it("adds --watch-stdin only to a worker invocation (one with worker arguments)", async () => {
    const run = await runAsSshd(remoteScript(jobSpec({ workerArgs: [] })));
    expect(run.argvText).toBe(["/bin/sh", "-c", FAKE_WORKER[2], "fake-worker", ""].join("\n"));
  });

  it("starts in remoteCwd and fails clearly when it is missing", async () => {
    const ok = await runAsSshd(remoteScript(jobSpec({ workerCommand: ["/bin/sh", "-c", "pwd"] }), { remoteCwd: "/usr/lib" }));
    expect(ok.lines).toContain("/usr/lib");
    const missing = await runAsSshd(remoteScript(jobSpec(), { remoteCwd: "/no/such dir" }));
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toMatch(/no\/such dir/);
  });

  it("ends with exit 1 and a message when stdin is empty", async () => {
    const result = await execa("/bin/sh", ["-c", remoteCommand(remoteScript(jobSpec()))], { input: "", reject: false });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe("skein: no cluster secret on stdin");
  });

  it("refuses environment names the shell cannot export", () => {
    expect(() => remoteScript(jobSpec({ env: { "BAD-NAME": "x" } }))).toThrow(/environment variable name "BAD-NAME" \(option "env"\)/);
  });
});

describe("workerCommandFor", () => {
  it("swaps node and the worker bin for the hosts' paths", () => {
    const here = ["/usr/local/bin/node", "/home/me/app/node_modules/@skein/worker/dist/bin.js"];
    expect(workerCommandFor(here, {})).toEqual(here);
    expect(workerCommandFor(here, { remoteNode: "/opt/node/bin/node" })).toEqual(["/opt/node/bin/node", here[1]]);
    expect(workerCommandFor(here, { remoteWorkerBin: "/shared/bin.js" })).toEqual([here[0], "/shared/bin.js"]);
    expect(workerCommandFor(["skein-worker"], { remoteWorkerBin: "/shared/bin.js" })).toEqual(["skein-worker", "/shared/bin.js"]);
    expect(workerCommandFor(["a", "b", "c"], { remoteNode: "n" })).toEqual(["n", "b", "c"]);
    expect(() => workerCommandFor([], {})).toThrow(/worker command is empty/);
  });
});

describe("quoting", () => {
  it("leaves plain words alone", () => {
    expect(shWord("/usr/bin/node")).toBe("/usr/bin/node");
    expect(shWord("ws://vm:8786")).toBe("ws://vm:8786");
  });

  it("never writes a newline or a bare ! for the login shell", () => {
    for (const word of NASTY) {
      const quoted = loginShellQuote(shWord(word));
      expect(quoted).not.toMatch(/\n/);
      expect(quoted.replaceAll("\\!", "")).not.toContain("!");
    }
  });

  it("refuses NUL", () => {
    expect(() => shWord("a\0b")).toThrow(/NUL/);
  });

  it("reads only a whole marker line as the pid", () => {
    expect(parsePidLine(`${PID_MARKER}1234`)).toBe(1234);
    expect(parsePidLine(`${PID_MARKER}1234\r`)).toBe(1234);
    expect(parsePidLine(`motd ${PID_MARKER}1234`)).toBeUndefined();
    expect(parsePidLine(`${PID_MARKER}`)).toBeUndefined();
  });
});
