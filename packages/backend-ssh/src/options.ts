/**
 * The ssh backend's own options, validated with errors that name the key, the value, where it came
 * from and what to write instead.
 */
import { accessSync, constants } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import * as v from "valibot";
import { SKEIN_ERROR_CODES, SkeinError, validateBackendOptions } from "@skein/core";
import { parseHost, type SshHost } from "./host-spec.js";

export interface SshBackendOptions {
  /**
   * Hosts to start workers on: "node07", "alice@node07" or "alice@node07:2222" (IPv6 as
   * "[fe80::1]:2222"). Jobs are spread over them round-robin; list a host twice to give it
   * twice the jobs. A comma-separated string is accepted too (`SKEIN_HOSTS=node1,node2`).
   */
  hosts: readonly string[] | string;
  /** Port for hosts whose entry has none. @default ssh's own (22, or your ~/.ssh/config) */
  port?: number;
  /** Login name for hosts whose entry has none. @default ssh's own (your ~/.ssh/config, or your local user name) */
  user?: string;
  /** Private key to log in with (`ssh -i`). @default ssh's own (~/.ssh/id_*, your agent) */
  identityFile?: string;
  /** known_hosts file holding the hosts' keys (`UserKnownHostsFile`). Unknown host keys are an error, never a prompt. @default ~/.ssh/known_hosts */
  knownHostsFile?: string;
  /**
   * Extra `ssh -o` options, e.g. ["ProxyJump=login.example.edu", "StrictHostKeyChecking=accept-new"].
   * BatchMode, ControlMaster, ControlPath and ControlPersist are Skein's to set.
   * @default []
   */
  sshOptions?: readonly string[];
  /** Seconds to wait for a host to answer before the job fails (`ConnectTimeout`). @default 10 */
  connectTimeout?: number;
  /** `node` on the hosts, when its path differs from this machine's. @default workerCommand[0] (this node's absolute path) */
  remoteNode?: string;
  /** `@skein/worker/dist/bin.js` on the hosts, when its path differs from this machine's. @default workerCommand[1] */
  remoteWorkerBin?: string;
  /** Directory the workers start in on the hosts. @default the login directory */
  remoteCwd?: string;
}

/** Option names `createCluster` accepts for `backend: "ssh"`. */
export const optionKeys = [
  "hosts",
  "port",
  "user",
  "identityFile",
  "knownHostsFile",
  "sshOptions",
  "connectTimeout",
  "remoteNode",
  "remoteWorkerBin",
  "remoteCwd",
] as const satisfies readonly (keyof SshBackendOptions)[];

/** Options after validation: hosts parsed, paths absolute. */
export interface SshSettings {
  readonly hosts: readonly SshHost[];
  readonly port: number | undefined;
  readonly user: string | undefined;
  readonly identityFile: string | undefined;
  readonly knownHostsFile: string | undefined;
  readonly sshOptions: readonly string[];
  readonly connectTimeout: number;
  readonly remoteNode: string | undefined;
  readonly remoteWorkerBin: string | undefined;
  readonly remoteCwd: string | undefined;
}

/** Options Skein sets itself: a user value would break multiplexing or let ssh prompt. */
export const RESERVED_SSH_OPTIONS = ["BatchMode", "ControlMaster", "ControlPath", "ControlPersist"] as const;

const DEFAULT_CONNECT_TIMEOUT = 10;

const noNewline = (what: string) => v.check((s: string) => !/[\r\n\0]/.test(s), `must be one line (${what} cannot contain a newline)`);
const pathString = (what: string) => v.pipe(v.string(`must be a path to ${what}`), v.minLength(1, "must not be empty"), noNewline("a path"), v.check((s) => !s.includes('"'), 'must not contain " (ssh cannot read such a path)'));
const remotePath = (what: string) => v.pipe(v.string(`must be ${what}`), v.minLength(1, "must not be empty"), v.check((s) => !s.includes("\0"), "must not contain NUL"));

const SshSchema = v.strictObject({
  hosts: v.union([v.string(), v.array(v.string('must be a host entry like "node07" or "alice@node07:2222"'))], 'must be a list of hosts like ["node07", "alice@node08:2222"]'),
  port: v.optional(v.pipe(v.number("must be a port number"), v.integer("must be a whole number"), v.minValue(1, "must be at least 1"), v.maxValue(65535, "must be at most 65535"))),
  user: v.optional(v.pipe(v.string("must be a user name"), v.regex(/^[A-Za-z0-9_.][A-Za-z0-9_.$-]*$/, 'must be a user name (letters, digits, ".", "_", "-")'))),
  identityFile: v.optional(pathString("a private key file")),
  knownHostsFile: v.optional(pathString("a known_hosts file")),
  sshOptions: v.optional(
    v.array(
      v.pipe(
        v.string('must be an ssh option like "ProxyJump=login1"'),
        noNewline("an ssh option"),
        v.regex(/^[A-Za-z][A-Za-z0-9]*(\s*=\s*|\s+)\S/, 'must be an ssh option written "Name=value", like "ProxyJump=login1"'),
      ),
      'must be an array of ssh options like ["ProxyJump=login1"]',
    ),
  ),
  connectTimeout: v.optional(v.pipe(v.number("must be a number of seconds"), v.integer("must be a whole number of seconds"), v.minValue(1, "must be at least 1"))),
  remoteNode: v.optional(remotePath('the path of node on the hosts, like "/usr/bin/node"')),
  remoteWorkerBin: v.optional(remotePath("the path of @skein/worker/dist/bin.js on the hosts")),
  remoteCwd: v.optional(remotePath("a directory on the hosts")),
});

/**
 * Validate the options of `backend: "ssh"`. `sourceOf` names where each came from; relative
 * paths resolve against `baseDir` (the config file's directory).
 */
export function resolveSshSettings(options: unknown, sourceOf: (key: string) => string = () => "sshBackend options", baseDir = process.cwd()): SshSettings {
  if (options !== null && typeof options === "object" && (options as { hosts?: unknown }).hosts === undefined) {
    throw badOption('the ssh backend needs the option "hosts": the machines to start workers on, e.g. hosts: ["node07", "alice@node08:2222"]');
  }
  const o = validateBackendOptions("ssh", SshSchema, options, sourceOf);
  const entries = typeof o.hosts === "string" ? o.hosts.split(/[,\s]+/).filter((h) => h !== "") : o.hosts;
  if (entries.length === 0) {
    throw badOption(`option "hosts" from ${sourceOf("hosts")} must name at least one host, got ${JSON.stringify(o.hosts)}. Write e.g. ["node07", "alice@node08:2222"]`);
  }
  const hosts = entries.map((entry) => {
    try {
      return parseHost(entry);
    } catch (error) {
      throw badOption(
        `option "hosts" from ${sourceOf("hosts")} has ${JSON.stringify(entry)}, which is not a host entry: ${(error as Error).message}. Write "host", "user@host" or "user@host:port"`,
      );
    }
  });
  for (const option of o.sshOptions ?? []) {
    const name = /^[A-Za-z0-9]+/.exec(option)?.[0] ?? "";
    const reserved = RESERVED_SSH_OPTIONS.find((r) => r.toLowerCase() === name.toLowerCase());
    if (reserved) {
      throw badOption(
        `option "sshOptions" from ${sourceOf("sshOptions")} sets ${reserved} (${JSON.stringify(option)}), which the ssh backend manages itself: BatchMode stays "yes" so ssh never prompts, and the Control* options give each host one multiplexed connection. Remove it`,
      );
    }
  }
  return {
    hosts,
    port: o.port,
    user: o.user,
    identityFile: o.identityFile === undefined ? undefined : readableFile("identityFile", o.identityFile, sourceOf, baseDir, "the private key ssh should log in with"),
    knownHostsFile: o.knownHostsFile === undefined ? undefined : readableFile("knownHostsFile", o.knownHostsFile, sourceOf, baseDir, "a known_hosts file holding the hosts' keys"),
    sshOptions: o.sshOptions ?? [],
    connectTimeout: o.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT,
    remoteNode: o.remoteNode,
    remoteWorkerBin: o.remoteWorkerBin,
    remoteCwd: o.remoteCwd,
  };
}

// --- internal ---

/** The absolute path of a local file ssh will read; a missing file is our error, not ssh's warning. */
function readableFile(key: string, path: string, sourceOf: (key: string) => string, baseDir: string, what: string): string {
  const expanded = path === "~" || path.startsWith("~/") ? join(homedir(), path.slice(2)) : path;
  const absolute = isAbsolute(expanded) ? expanded : resolve(baseDir, expanded);
  try {
    accessSync(absolute, constants.R_OK);
  } catch (error) {
    throw badOption(`option "${key}" from ${sourceOf(key)} names ${JSON.stringify(path)}, which cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}). Give ${what}`);
  }
  return absolute;
}

function badOption(message: string): SkeinError {
  return new SkeinError("ssh", SKEIN_ERROR_CODES.BAD_OPTION, message);
}
