/**
 * One multiplexed connection per host: an OpenSSH control master whose socket lives in a private
 * 0700 directory. Every ssh command names the socket with `ControlMaster=auto`, so it rides the
 * master when one is up and otherwise becomes the master (backgrounding itself: ControlPersist).
 * `close()` ends the masters with `ssh -O exit`; if this process dies instead, an idle master
 * exits by itself after CONTROL_PERSIST_SECONDS.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SshHost } from "./host-spec.js";
import type { SshSettings } from "./options.js";
import { SshCommandError, runSsh, sshArgv, sshEnvironment, type SshResult } from "./ssh-command.js";

/** How long `close()` waits for a master to remove its socket after `-O exit`. */
const MASTER_EXIT_WAIT_MS = 5_000;

export class SshConnections {
  readonly #settings: SshSettings;
  #directory: string | undefined;
  /** Control socket per distinct destination (a host listed twice shares one master). */
  readonly #sockets = new Map<string, { host: SshHost; path: string }>();
  readonly #connecting = new Map<string, Promise<void>>();
  /** Should this process exit without `close()` (a signal, an uncaught error), end the masters anyway. */
  readonly #onExit = () => this.closeSync();

  constructor(settings: SshSettings) {
    this.#settings = settings;
  }

  /** The private directory holding the control sockets, once one was needed. */
  get directory(): string | undefined {
    return this.#directory;
  }

  /** `ssh <options> -- <host>` for this host's master; append a remote command (or `-O …` options before `--`). */
  argv(host: SshHost): string[] {
    return sshArgv(this.#settings, host, this.#socketOf(host));
  }

  /**
   * Make sure the host's master is up, so that a host that cannot be reached, refuses the key or
   * has an unknown host key fails here, with ssh's own words, instead of in a job.
   */
  connect(host: SshHost, signal?: AbortSignal): Promise<void> {
    const key = destinationKey(this.#settings, host);
    if (existsSync(this.#socketOf(host))) return Promise.resolve();
    let pending = this.#connecting.get(key);
    if (!pending) {
      pending = (async () => {
        // Becomes the master (ControlMaster=auto), which backgrounds itself once logged in.
        const result = await runSsh(host, [...this.argv(host), "true"], (this.#settings.connectTimeout + 30) * 1000, signal);
        if (result.exitCode !== 0) throw new SshCommandError(host, result, `failed with exit code ${result.exitCode}`);
      })().finally(() => this.#connecting.delete(key));
      this.#connecting.set(key, pending);
    }
    return pending;
  }

  /** Run `command` through the host's login shell and wait for it. */
  run(host: SshHost, command: string, timeoutMs: number): Promise<SshResult> {
    return runSsh(host, [...this.argv(host), command], timeoutMs);
  }

  /** End every master (sessions still open on them end too) and remove the socket directory. */
  async close(): Promise<void> {
    const problems: SshCommandError[] = [];
    await Promise.all(
      [...this.#sockets.values()].map(async ({ host, path }) => {
        if (!existsSync(path)) return;
        const result = await runSsh(host, this.#controlArgv(host, "exit"), 10_000);
        if (result.exitCode !== 0 && !isNoMaster(result.stderr)) {
          problems.push(new SshCommandError(host, result, "could not end the control master"));
          return;
        }
        const deadline = Date.now() + MASTER_EXIT_WAIT_MS;
        while (existsSync(path) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      }),
    );
    this.#removeDirectory();
    if (problems.length > 0) throw problems[0];
  }

  /** From a process `exit` handler: ask every master to exit, synchronously, and remove the directory. */
  closeSync(): void {
    for (const { host, path } of this.#sockets.values()) {
      if (!existsSync(path)) continue;
      const [file, ...args] = this.#controlArgv(host, "exit") as [string, ...string[]];
      spawnSync(file, args, { stdio: "ignore", timeout: 2000, env: sshEnvironment() });
    }
    this.#removeDirectory();
  }

  // --- internal ---

  #socketOf(host: SshHost): string {
    const key = destinationKey(this.#settings, host);
    let socket = this.#sockets.get(key);
    if (!socket) {
      // mkdtemp makes the directory 0700: nobody else may connect to (or see) the sockets.
      if (this.#directory === undefined) {
        this.#directory = mkdtempSync(join(tmpdir(), "skein-ssh-"));
        process.once("exit", this.#onExit);
      }
      socket = { host, path: join(this.#directory, String(this.#sockets.size)) };
      this.#sockets.set(key, socket);
    }
    return socket.path;
  }

  /** `ssh … -O <operation> -- <host>`: talks to the local master only. */
  #controlArgv(host: SshHost, operation: "exit" | "check"): string[] {
    const argv = this.argv(host);
    const dashes = argv.lastIndexOf("--");
    return [...argv.slice(0, dashes), "-O", operation, ...argv.slice(dashes)];
  }

  #removeDirectory(): void {
    process.off("exit", this.#onExit);
    if (this.#directory) rmSync(this.#directory, { recursive: true, force: true });
    this.#directory = undefined;
    this.#sockets.clear();
  }
}

/** Entries that reach the same account on the same host share a master. */
function destinationKey(settings: SshSettings, host: SshHost): string {
  return `${host.user ?? settings.user ?? ""}@${host.host}:${host.port ?? settings.port ?? ""}`;
}

/** `-O exit` found no master: it had already gone (idle timeout) and removed its socket, or left a stale one. */
function isNoMaster(stderr: string): boolean {
  return /No such file or directory|Connection refused/i.test(stderr);
}
