/**
 * Failed hellos, counted per remote address. Only the first `maxLogged` failures of a window are
 * logged (then one line saying how many were suppressed), so a misconfigured or hostile host
 * cannot flood the logs. Connections are never refused by address: on a shared login node every
 * user is 127.0.0.1, and blocking the address would lock out the cluster's own workers. A right
 * secret is always accepted; guessing a 256-bit secret is hopeless.
 */
export interface AuthLimiterOptions {
  /** Failures logged per address per window. @default 5 */
  maxLogged?: number;
  /** @default 60000 */
  windowMs?: number;
}

export type FailureVerdict = { log: "this" } | { log: "suppressed" } | { log: "summary"; suppressed: number };

export class AuthLimiter {
  readonly #failures = new Map<string, { count: number; since: number }>();
  readonly #maxLogged: number;
  readonly #windowMs: number;

  constructor(options: AuthLimiterOptions = {}) {
    this.#maxLogged = options.maxLogged ?? 5;
    this.#windowMs = options.windowMs ?? 60_000;
  }

  /** Count a failed hello from `remote` and say whether to log it. */
  fail(remote: string, now = Date.now()): FailureVerdict {
    const entry = this.#failures.get(remote);
    if (!entry || now - entry.since > this.#windowMs) {
      const suppressed = entry ? Math.max(0, entry.count - this.#maxLogged) : 0;
      this.#failures.set(remote, { count: 1, since: now });
      if (this.#failures.size > 10_000) this.#prune(now);
      return suppressed > 0 ? { log: "summary", suppressed } : { log: "this" };
    }
    entry.count += 1;
    return entry.count <= this.#maxLogged ? { log: "this" } : { log: "suppressed" };
  }

  #prune(now: number): void {
    for (const [remote, entry] of this.#failures) if (now - entry.since > this.#windowMs) this.#failures.delete(remote);
  }
}
