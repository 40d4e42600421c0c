import type { ClusterBackend, ClusterOptions } from "@skein/core";
import type { ConformanceContext } from "./harness.js";
import type { ServiceProbe } from "./require-service.js";

export interface ConformanceOptions {
  /** A fresh backend for each test (it is closed after the test). */
  createBackend: () => ClusterBackend | Promise<ClusterBackend>;
  /** How to tell whether the real system is here; see `requireService`. */
  service: ServiceProbe;
  /**
   * A backend whose jobs stay queued until cancelled (held jobs: `jobExtraDirectives: ["-h"]` for
   * PBS, `["--hold"]` for Slurm). Without it, "cancel a queued job" and "close cancels queued jobs"
   * are skipped, saying so.
   */
  createHoldingBackend?: () => ClusterBackend | Promise<ClusterBackend>;
  /** Cluster options for the tests that start a `Cluster` (e.g. `{ interface: "lo" }`). @default {} */
  clusterOptions?: ClusterOptions;
  /** Budget for one state change (submitted → running, cancelled → gone, workers connecting), in ms. @default 60_000 */
  stateChangeTimeoutMs?: number;
  /** Budget for one whole test, and for its clean-up. @default 3 × stateChangeTimeoutMs */
  testTimeoutMs?: number;
  /** Jobs run on this machine, so the suite can check that none of their processes is left. @default true */
  jobsRunOnThisHost?: boolean;
  /** An id the system has never issued. @default "99999999" */
  unknownJobId?: string;
  /**
   * The system can run one job on this many nodes (at least 2): run the multi-node test (a job's
   * workers start on every node). Without it that test is skipped, saying so.
   */
  multiNode?: { nodes: number };
  /** Backend-specific tests, run with the same helpers and clean-up (unstorage's additionalTests). */
  additionalTests?: (ctx: ConformanceContext) => void;
}

export interface ResolvedConformanceOptions extends ConformanceOptions {
  readonly stateChangeTimeoutMs: number;
  readonly testTimeoutMs: number;
  readonly jobsRunOnThisHost: boolean;
  readonly unknownJobId: string;
  readonly clusterOptions: ClusterOptions;
}

export function resolveConformanceOptions(options: ConformanceOptions): ResolvedConformanceOptions {
  const stateChangeTimeoutMs = options.stateChangeTimeoutMs ?? 60_000;
  return {
    ...options,
    stateChangeTimeoutMs,
    testTimeoutMs: options.testTimeoutMs ?? 3 * stateChangeTimeoutMs,
    jobsRunOnThisHost: options.jobsRunOnThisHost ?? true,
    unknownJobId: options.unknownJobId ?? "99999999",
    clusterOptions: options.clusterOptions ?? {},
  };
}
