import { SKEIN_ERROR_CODES, SkeinError } from "@skein/serialization";
import type { ClusterBackend } from "./cluster/backend.js";
import { Cluster } from "./cluster/cluster.js";
import type { BackendOrigin } from "./cluster/job-ledger.js";
import { COMMON_OPTION_KEYS, backendOptionsOf, resolveClusterSettings, type ClusterOptions, type ClusterSettings } from "./cluster/cluster-options.js";
import { loadBackendModule } from "./config/backend-loader.js";
import { loadConfig, type LoadConfigOptions, type LoadedConfig } from "./config/load-config.js";
import { badOption } from "./errors.js";
import { unknownOptionMessage } from "./options.js";

/** Cluster options plus the chosen backend's own options (queue, account, resourceSpec, hosts, …). */
export type CreateClusterOptions = ClusterOptions & Record<string, unknown>;

/**
 * Start a cluster. Without options, everything comes from config files and `SKEIN_*` variables
 * (see `loadConfig`), and the backend defaults to "local". Options given here win over both.
 */
export async function createCluster(options: CreateClusterOptions = {}, configOptions: LoadConfigOptions = {}): Promise<Cluster> {
  const { backend, settings, origin } = await resolveCluster(options, configOptions);
  return Cluster.start(backend, settings, origin);
}

export interface ResolvedCluster {
  readonly loaded: LoadedConfig;
  readonly settings: ClusterSettings;
  readonly backend: ClusterBackend;
  /** Where an option came from: "createCluster options", a file, "environment variable SKEIN_…", or "defaults". */
  readonly sourceOf: (key: string) => string;
  /** How to build this backend again (for the job ledger). */
  readonly origin: BackendOrigin;
}

/** Everything `createCluster` does before starting anything: merge config, validate, build the backend. */
export async function resolveCluster(options: CreateClusterOptions = {}, configOptions: LoadConfigOptions = {}): Promise<ResolvedCluster> {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw badOption("cluster", `createCluster takes an object of options, e.g. createCluster({ backend: "pbs", cores: 12 }), got ${Array.isArray(options) ? "an array" : typeof options}`);
  }
  const loaded = await loadConfig(configOptions);
  const merged: Record<string, unknown> = { ...loaded.options };
  const sources: Record<string, string> = { ...loaded.sources };
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    merged[key] = value;
    sources[key] = "createCluster options";
  }
  const sourceOf = (key: string) => sources[key] ?? "defaults";
  const settings = resolveClusterSettings(merged, sourceOf);
  const module = await loadBackendModule(settings.backend, loaded.baseDir);
  const backendOptions = backendOptionsOf(merged);
  if (module.optionKeys) {
    const known = new Set(module.optionKeys);
    const unknown = Object.keys(backendOptions).find((k) => !known.has(k));
    if (unknown !== undefined) {
      throw new SkeinError(
        "cluster",
        SKEIN_ERROR_CODES.BAD_OPTION,
        `${unknownOptionMessage(unknown, sourceOf(unknown), [...COMMON_OPTION_KEYS, ...module.optionKeys])} (backend "${settings.backend}")`,
      );
    }
  }
  const backend = await module.createBackend(backendOptions, { sourceOf, baseDir: loaded.baseDir });
  return { loaded, settings, backend, sourceOf, origin: { module: settings.backend, baseDir: loaded.baseDir, options: backendOptions } };
}
