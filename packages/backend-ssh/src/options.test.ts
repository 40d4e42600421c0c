import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { COMMON_OPTION_KEYS } from "@skein/core";
import { optionKeys, resolveSshSettings } from "./options.js";
import { createBackend } from "./ssh-backend.js";

const dir = mkdtempSync(join(tmpdir(), "skein-ssh-options-"));
const key = join(dir, "id_test");
writeFileSync(key, "not really a key\n", { mode: 0o600 });
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fromFile = (k: string) => (k === "hosts" || k === "sshOptions" || k === "identityFile" ? "skein.config.yaml" : "defaults");

describe("ssh options", () => {
  it("parses hosts and applies defaults", () => {
    const settings = resolveSshSettings({ hosts: ["node07", "alice@node08:2222"] });
    expect(settings.hosts).toEqual([
      { host: "node07", label: "node07" },
      { user: "alice", host: "node08", port: 2222, label: "alice@node08:2222" },
    ]);
    expect(settings).toMatchObject({ connectTimeout: 10, sshOptions: [], port: undefined, user: undefined, identityFile: undefined });
  });

  it("accepts hosts as a comma-separated string (SKEIN_HOSTS=node1,node2)", () => {
    expect(resolveSshSettings({ hosts: "node1, node2,node3" }).hosts.map((h) => h.host)).toEqual(["node1", "node2", "node3"]);
  });

  it("resolves a relative identityFile against the config file's directory", () => {
    expect(resolveSshSettings({ hosts: ["n"], identityFile: "id_test" }, fromFile, dir).identityFile).toBe(key);
  });

  it("keeps every option it is given", () => {
    const settings = resolveSshSettings({
      hosts: ["n"],
      port: 2222,
      user: "alice",
      identityFile: key,
      knownHostsFile: key,
      sshOptions: ["ProxyJump=login1", "StrictHostKeyChecking accept-new"],
      connectTimeout: 3,
      remoteNode: "/opt/node/bin/node",
      remoteWorkerBin: "/home/alice/app/node_modules/@skein/worker/dist/bin.js",
      remoteCwd: "/scratch/alice",
    });
    expect(settings).toMatchObject({ port: 2222, user: "alice", knownHostsFile: key, connectTimeout: 3, remoteCwd: "/scratch/alice" });
    expect(settings.sshOptions).toEqual(["ProxyJump=login1", "StrictHostKeyChecking accept-new"]);
  });

  it("names every option createCluster may pass", () => {
    expect([...optionKeys].sort()).toEqual(["connectTimeout", "hosts", "identityFile", "knownHostsFile", "port", "remoteCwd", "remoteNode", "remoteWorkerBin", "sshOptions", "user"]);
    // None of them shadows a common cluster option.
    expect(optionKeys.filter((k) => (COMMON_OPTION_KEYS as readonly string[]).includes(k))).toEqual([]);
  });

  describe("errors name the key, the value, the source and what to write", () => {
    it.each<[Record<string, unknown>, RegExp]>([
      [{}, /needs the option "hosts".*hosts: \["node07", "alice@node08:2222"\]/],
      [{ hosts: [] }, /option "hosts" from skein.config.yaml must name at least one host, got \[\]/],
      [{ hosts: "" }, /option "hosts" from skein.config.yaml must name at least one host/],
      [{ hosts: 7 }, /option "hosts" from skein.config.yaml must be a list of hosts like \["node07", "alice@node08:2222"\], got 7/],
      [{ hosts: ["node07", "bad host"] }, /option "hosts" from skein.config.yaml has "bad host", which is not a host entry: "bad host" is not a host name or address\. Write "host", "user@host" or "user@host:port"/],
      [{ hosts: ["node07:99999"] }, /has "node07:99999".*the port 99999 is not between 1 and 65535/],
      [{ hosts: ["n"], port: 0 }, /option "port" from defaults must be at least 1, got 0/],
      [{ hosts: ["n"], port: "22" }, /option "port" from defaults must be a port number, got "22"/],
      [{ hosts: ["n"], user: "-oProxyCommand=x" }, /option "user" from defaults must be a user name/],
      [{ hosts: ["n"], connectTimeout: 2.5 }, /option "connectTimeout" from defaults must be a whole number of seconds, got 2.5/],
      [{ hosts: ["n"], sshOptions: "ProxyJump=x" }, /option "sshOptions" from skein.config.yaml must be an array of ssh options like \["ProxyJump=login1"\]/],
      [{ hosts: ["n"], sshOptions: ["-v"] }, /option "sshOptions.0" from skein.config.yaml must be an ssh option written "Name=value"/],
      [{ hosts: ["n"], sshOptions: ["ProxyJump=x\nProxyCommand=y"] }, /option "sshOptions.0" .*must be one line/],
      [{ hosts: ["n"], sshOptions: ["batchmode=no"] }, /option "sshOptions" from skein.config.yaml sets BatchMode \("batchmode=no"\), which the ssh backend manages itself.*Remove it/],
      [{ hosts: ["n"], sshOptions: ["ControlPath /tmp/x"] }, /sets ControlPath/],
      [{ hosts: ["n"], identityFile: "no-such-key" }, /option "identityFile" from skein.config.yaml names "no-such-key", which cannot be read \(ENOENT\)\. Give the private key ssh should log in with/],
      [{ hosts: ["n"], knownHostsFile: 'a"b' }, /option "knownHostsFile" from defaults must not contain "/],
      [{ hosts: ["n"], remoteNode: "" }, /option "remoteNode" from defaults must not be empty/],
      [{ hosts: ["n"], hostz: ["n"] }, /unknown option "hostz" in defaults \(did you mean "hosts"\?\)/],
    ])("%j", (options, message) => {
      let error: unknown;
      try {
        resolveSshSettings(options, fromFile, dir);
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ code: "SKEIN_ERR_BAD_OPTION", component: "ssh", message: expect.stringMatching(/^\[skein\] \[ssh\] /) });
      expect((error as Error).message).toMatch(message);
    });
  });

  it("createBackend names the source the config loader reports", () => {
    const sourceOf = (k: string) => (k === "hosts" ? "environment variable SKEIN_HOSTS" : "defaults");
    expect(() => createBackend({ hosts: ["a b"] }, { sourceOf, baseDir: dir })).toThrow(/option "hosts" from environment variable SKEIN_HOSTS has "a b"/);
    expect(createBackend({ hosts: ["node07"] }, { sourceOf, baseDir: dir })).toMatchObject({ name: "ssh", capabilities: { walltime: false, logs: true, remoteWorkers: true } });
  });
});
