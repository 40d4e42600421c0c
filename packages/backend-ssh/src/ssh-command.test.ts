import { describe, expect, it } from "vitest";
import { parseHost } from "./host-spec.js";
import type { SshSettings } from "./options.js";
import { CONTROL_PERSIST_SECONDS, SshCommandError, sshArgv } from "./ssh-command.js";

const base: SshSettings = {
  hosts: [parseHost("node07")],
  port: undefined,
  user: undefined,
  identityFile: undefined,
  knownHostsFile: undefined,
  sshOptions: [],
  connectTimeout: 10,
  remoteNode: undefined,
  remoteWorkerBin: undefined,
  remoteCwd: undefined,
};

/** `-o` values in order. */
const optionsOf = (argv: readonly string[]) => argv.flatMap((word, i) => (argv[i - 1] === "-o" ? [word] : []));

describe("sshArgv", () => {
  it("never prompts, multiplexes through the given socket, and ends with -- <host>", () => {
    const argv = sshArgv(base, parseHost("node07"), "/tmp/skein-ssh-x/0");
    expect(argv[0]).toBe("ssh");
    expect(argv).toContain("-T");
    expect(argv.slice(-2)).toEqual(["--", "node07"]);
    expect(optionsOf(argv).slice(0, 6)).toEqual([
      "BatchMode=yes",
      "ControlMaster=auto",
      "ControlPath=/tmp/skein-ssh-x/0",
      `ControlPersist=${CONTROL_PERSIST_SECONDS}`,
      "PasswordAuthentication=no",
      "KbdInteractiveAuthentication=no",
    ]);
    expect(optionsOf(argv)).toContain("ConnectTimeout=10");
    expect(argv).not.toContain("-p");
    expect(argv).not.toContain("-l");
  });

  it("puts the user's sshOptions after Skein's own and before the defaults they may override", () => {
    const argv = sshArgv({ ...base, sshOptions: ["ConnectTimeout=3", "ProxyJump=login1"], identityFile: "/k" }, parseHost("n"), "/s");
    const options = optionsOf(argv);
    expect(options.indexOf("ConnectTimeout=3")).toBeGreaterThan(options.indexOf("BatchMode=yes"));
    // ssh keeps the first value it sees: the user's ConnectTimeout wins over the default after it.
    expect(options.indexOf("ConnectTimeout=3")).toBeLessThan(options.indexOf("ConnectTimeout=10"));
    expect(options.indexOf("ProxyJump=login1")).toBeLessThan(options.indexOf("IdentitiesOnly=yes"));
  });

  it("takes port and user from the host entry first, then from the options", () => {
    const settings = { ...base, port: 22, user: "alice" };
    const fromEntry = sshArgv(settings, parseHost("bob@n:2222"), "/s");
    expect(fromEntry.slice(fromEntry.indexOf("-p"), fromEntry.indexOf("-p") + 4)).toEqual(["-p", "2222", "-l", "bob"]);
    const fromOptions = sshArgv(settings, parseHost("n"), "/s");
    expect(fromOptions.slice(fromOptions.indexOf("-p"), fromOptions.indexOf("-p") + 4)).toEqual(["-p", "22", "-l", "alice"]);
  });

  it("writes key, known_hosts and socket paths so ssh reads them back unchanged", () => {
    const argv = sshArgv({ ...base, identityFile: "/home/a b/id", knownHostsFile: "/home/50%/kh" }, parseHost("n"), "/tmp/with space/0");
    const options = optionsOf(argv);
    expect(options).toContain('IdentityFile="/home/a b/id"');
    expect(options).toContain("IdentitiesOnly=yes");
    expect(options).toContain("UserKnownHostsFile=/home/50%%/kh");
    expect(options).toContain('ControlPath="/tmp/with space/0"');
  });
});

describe("SshCommandError", () => {
  it("carries the command, exit code and ssh's own words", () => {
    const argv = ["ssh", "-o", "BatchMode=yes", "--", "127.0.0.1", "exec /bin/sh -c 'x'"];
    const error = new SshCommandError(parseHost("root@127.0.0.1:2999"), { argv, exitCode: 255, stdout: "", stderr: "ssh: connect to host 127.0.0.1 port 2999: Connection refused\r\n" }, "failed with exit code 255");
    expect(error).toMatchObject({ code: "SKEIN_ERR_COMMAND_FAILED", component: "ssh", exitCode: 255, host: "root@127.0.0.1:2999", argv });
    expect(error.message).toBe(
      "[skein] [ssh] ssh to root@127.0.0.1:2999 failed with exit code 255: ssh: connect to host 127.0.0.1 port 2999: Connection refused\n" +
        "  command: ssh -o BatchMode=yes -- 127.0.0.1 'exec /bin/sh -c '\"'\"'x'\"'\"''",
    );
  });
});
