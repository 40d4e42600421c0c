import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { resolveCluster } from "../create-cluster.js";
import { loadConfig, optionsFromEnvironment } from "./load-config.js";

const fresh = () => mkdtempSync(join(tmpdir(), "skein-config-"));
const noUser = "/nonexistent-skein-user-config";

describe("loadConfig", () => {
  it.each([
    ["skein.config.json", JSON.stringify({ backend: "pbs", cores: 12 })],
    ["skein.config.yaml", "backend: pbs\ncores: 12\n"],
    ["skein.config.yml", "backend: pbs\ncores: 12\n"],
    ["skein.config.mjs", "export default { backend: 'pbs', cores: 12 };\n"],
    ["skein.config.ts", "const config: { backend: string; cores: number } = { backend: 'pbs', cores: 12 };\nexport default config;\n"],
  ])("reads %s from the working directory", async (file, text) => {
    const dir = fresh();
    writeFileSync(join(dir, file), text);
    const loaded = await loadConfig({ cwd: dir, env: {}, userConfigDir: noUser });
    expect(loaded.options).toEqual({ backend: "pbs", cores: 12 });
    expect(loaded.sources.cores).toBe(join(dir, file));
  });

  it("layers user config < project config < environment, remembering each source", async () => {
    const dir = fresh();
    const user = fresh();
    writeFileSync(join(user, "config.yaml"), "queue: long\nwalltime: '01:00:00'\nname: mine\n");
    writeFileSync(join(dir, "skein.config.json"), JSON.stringify({ walltime: "00:20:00", cores: 12 }));
    const loaded = await loadConfig({ cwd: dir, env: { SKEIN_CORES: "24", SKEIN_BACKEND: "pbs" }, userConfigDir: user });
    expect(loaded.options).toEqual({ queue: "long", walltime: "00:20:00", name: "mine", cores: 24, backend: "pbs" });
    expect(loaded.sources).toMatchObject({
      queue: join(user, "config.yaml"),
      walltime: join(dir, "skein.config.json"),
      cores: "environment variable SKEIN_CORES",
    });
  });

  it("follows SKEIN_CONFIG to a file elsewhere", async () => {
    const dir = fresh();
    mkdirSync(join(dir, "cfg"));
    writeFileSync(join(dir, "cfg", "site.yaml"), "backend: slurm\n");
    const loaded = await loadConfig({ cwd: dir, env: { SKEIN_CONFIG: "cfg/site.yaml" }, userConfigDir: noUser });
    expect(loaded.options.backend).toBe("slurm");
    expect(loaded.baseDir).toBe(join(dir, "cfg"));
  });

  it("says which file is broken and why", async () => {
    const dir = fresh();
    writeFileSync(join(dir, "skein.config.json"), "{ cores: 12 ");
    await expect(loadConfig({ cwd: dir, env: {}, userConfigDir: noUser })).rejects.toThrow(new RegExp(`cannot read the config file ${join(dir, "skein.config.json")}`));
    const other = fresh();
    writeFileSync(join(other, "skein.config.yaml"), "- a\n- b\n");
    await expect(loadConfig({ cwd: other, env: {}, userConfigDir: noUser })).rejects.toThrow(/must hold an object of cluster options, got an array/);
  });
});

describe("optionsFromEnvironment", () => {
  it("maps SKEIN_UPPER_SNAKE to camelCase and parses JSON-looking values", () => {
    const { options, names } = optionsFromEnvironment({
      SKEIN_RESOURCE_SPEC: "nodes=1:c18a:ppn=12",
      SKEIN_CORES: "12",
      SKEIN_JOB_EXTRA_DIRECTIVES: '["-m abe"]',
      SKEIN_WALLTIME: "00:20:00",
      SKEIN_SECRET: "never an option",
      SKEIN_TEST_SSH_HOST: "tooling",
      SKEIN_LOG: "debug",
      PATH: "/bin",
    });
    expect(options).toEqual({ resourceSpec: "nodes=1:c18a:ppn=12", cores: 12, jobExtraDirectives: ["-m abe"], walltime: "00:20:00" });
    expect(names.resourceSpec).toBe("SKEIN_RESOURCE_SPEC");
  });
});

describe("resolveCluster (bad configuration, before anything starts)", () => {
  const env = (vars: Record<string, string>) => ({ cwd: fresh(), env: vars, userConfigDir: noUser });

  it("names the key, the value and the source of a bad value", async () => {
    await expect(resolveCluster({}, env({ SKEIN_CORES: "twelve" }))).rejects.toThrow(/option "cores" from environment variable SKEIN_CORES must be a number, got "twelve"/);
    await expect(resolveCluster({ walltime: "2h" }, env({}))).rejects.toThrow(/option "walltime" from createCluster options must look like HH:MM:SS \(e\.g\. "02:00:00"\) or be seconds, got "2h"/);
    await expect(resolveCluster({ memory: "lots" }, env({}))).rejects.toThrow(/"32GB" \(10\^9\) or "32GiB" \(2\^30\), got "lots"/);
  });

  it("suggests the option meant", async () => {
    await expect(resolveCluster({ proceses: 4 }, env({}))).rejects.toThrow(/unknown option "proceses" in createCluster options \(did you mean "processes"\?\)/);
  });

  it("refuses more processes than cores", async () => {
    await expect(resolveCluster({ cores: 2, processes: 4 }, env({}))).rejects.toThrow(/processes \(4, from createCluster options\) cannot exceed cores \(2\)/);
  });

  it("says which package a backend needs, or that a custom module is missing", async () => {
    await expect(resolveCluster({ backend: "./no-such-backend.js" }, env({}))).rejects.toMatchObject({ code: "SKEIN_ERR_BACKEND_NOT_FOUND" });
    await expect(resolveCluster({ backend: "kubernetes" }, env({}))).rejects.toThrow(/backend "kubernetes" is not one of local, pbs, torque, slurm, ssh/);
  });

  it("refuses a custom module without createBackend, listing its exports", async () => {
    const dir = fresh();
    writeFileSync(join(dir, "almost.mjs"), "export const backend = {};\n");
    await expect(resolveCluster({ backend: "./almost.mjs" }, { cwd: dir, env: {}, userConfigDir: noUser })).rejects.toThrow(/does not export a createBackend function \(it exports: backend\)/);
  });

  it("loads a custom backend module relative to the config file", async () => {
    const dir = fresh();
    writeFileSync(
      join(dir, "my-backend.mjs"),
      "export const optionKeys = ['site'];\nexport function createBackend(options) { return { name: 'mine:' + options.site, capabilities: { walltime: false, logs: false, remoteWorkers: false }, jobScript: () => '', submit: async () => '1', status: async () => new Map(), cancel: async () => {} }; }\n",
    );
    writeFileSync(join(dir, "skein.config.yaml"), "backend: ./my-backend.mjs\nsite: lab\n");
    const resolved = await resolveCluster({}, { cwd: dir, env: {}, userConfigDir: noUser });
    expect(resolved.backend.name).toBe("mine:lab");
    await expect(resolveCluster({ sites: "x" }, { cwd: dir, env: {}, userConfigDir: noUser })).rejects.toThrow(/unknown option "sites" in createCluster options \(did you mean "site"\?\).*\(backend "\.\/my-backend\.mjs"\)/);
  });
});
