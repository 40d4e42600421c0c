/**
 * Where `createCluster()` finds its options, highest precedence first:
 *   1. options passed to `createCluster({ … })`
 *   2. environment variables `SKEIN_<OPTION>` (SKEIN_BACKEND=pbs, SKEIN_CORES=12, SKEIN_RESOURCE_SPEC=…)
 *   3. `skein.config.{ts,mts,js,mjs,cjs,json,yaml,yml}` in the working directory (or the file in SKEIN_CONFIG)
 *   4. `config.{…}` in the user config directory ($XDG_CONFIG_HOME/skein or ~/.config/skein)
 * Every value remembers where it came from, so an error can name the file or variable.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { lilconfig, type Loader } from "lilconfig";
import { SKEIN_ERROR_CODES, SkeinError } from "@skein/serialization";

export interface LoadedConfig {
  readonly options: Record<string, unknown>;
  /** Where each option came from: "skein.config.yaml", "environment variable SKEIN_CORES", … */
  readonly sources: Record<string, string>;
  /** Config files read, lowest precedence first. */
  readonly files: readonly string[];
  /** Directory relative paths in config (custom backend modules) resolve against. */
  readonly baseDir: string;
}

/** Environment variables that are not options. */
const RESERVED_ENV = new Set(["SKEIN_SECRET", "SKEIN_SECRET_FILE", "SKEIN_LOG", "SKEIN_CONFIG", "SKEIN_WORKER_OPTIONS", "SKEIN_LOCAL_DIRECTORY", "SKEIN_STATE_DIR"]);
/** Prefixes of variables that belong to Skein's tooling, not to cluster options. */
const IGNORED_ENV_PREFIXES = ["SKEIN_TEST_", "SKEIN_BENCH_"];

const EXTENSIONS = ["ts", "mts", "js", "mjs", "cjs", "json", "yaml", "yml"];

export interface LoadConfigOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Directory holding the user's config.{…}; undefined uses XDG_CONFIG_HOME/skein or ~/.config/skein. */
  userConfigDir?: string;
}

export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const userDir = options.userConfigDir ?? join(env.XDG_CONFIG_HOME || join(homedir(), ".config"), "skein");
  const merged: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  const files: string[] = [];
  let baseDir = cwd;
  const apply = (values: Record<string, unknown>, source: (key: string) => string) => {
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) continue;
      merged[key] = value;
      sources[key] = source(key);
    }
  };

  const userFile = await findConfig("config", userDir);
  if (userFile) {
    apply(await readConfigFile(userFile), () => userFile);
    files.push(userFile);
  }
  const projectFile = env.SKEIN_CONFIG ? resolve(cwd, env.SKEIN_CONFIG) : await findConfig("skein.config", cwd);
  if (projectFile) {
    apply(await readConfigFile(projectFile), () => projectFile);
    files.push(projectFile);
    baseDir = dirname(projectFile);
  }
  const fromEnv = optionsFromEnvironment(env);
  apply(fromEnv.options, (key) => `environment variable ${fromEnv.names[key]}`);
  return { options: merged, sources, files, baseDir };
}

/** `SKEIN_RESOURCE_SPEC` → `resourceSpec`; values that parse as JSON (numbers, arrays, objects, booleans) are parsed. */
export function optionsFromEnvironment(env: NodeJS.ProcessEnv): { options: Record<string, unknown>; names: Record<string, string> } {
  const options: Record<string, unknown> = {};
  const names: Record<string, string> = {};
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith("SKEIN_") || raw === undefined || RESERVED_ENV.has(name)) continue;
    if (IGNORED_ENV_PREFIXES.some((p) => name.startsWith(p))) continue;
    const key = name
      .slice("SKEIN_".length)
      .toLowerCase()
      .replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    options[key] = parseEnvValue(raw);
    names[key] = name;
  }
  return { options, names };
}

function parseEnvValue(raw: string): unknown {
  const trimmed = raw.trim();
  if (/^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|\[.*\]|\{.*\})$/s.test(trimmed)) {
    try {
      return JSON.parse(trimmed);
    } catch {
      // Not JSON after all ("[a, b]"): keep the text; validation will say what is expected.
    }
  }
  return raw;
}

async function findConfig(name: string, dir: string): Promise<string | undefined> {
  const searchPlaces = EXTENSIONS.map((ext) => `${name}.${ext}`);
  const noop: Loader = () => ({});
  const loaders = Object.fromEntries(EXTENSIONS.map((ext) => [`.${ext}`, noop]));
  const result = await lilconfig("skein", { searchPlaces, stopDir: dir, loaders, ignoreEmptySearchPlaces: false }).search(dir);
  return result?.filepath;
}

async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  let value: unknown;
  try {
    if (/\.(ya?ml)$/.test(path)) value = (await import("yaml")).parse(readFileSync(path, "utf8"));
    else if (path.endsWith(".json")) value = JSON.parse(readFileSync(path, "utf8"));
    else if (/\.m?ts$/.test(path)) {
      // Node 20 cannot import TypeScript; jiti transpiles the config file on the fly.
      const { createJiti } = await import("jiti");
      value = await createJiti(import.meta.url).import(path, { default: true });
    } else {
      const module = (await import(pathToFileURL(path).href)) as { default?: unknown };
      value = module.default ?? module;
    }
  } catch (error) {
    throw new SkeinError("config", SKEIN_ERROR_CODES.BAD_OPTION, `cannot read the config file ${path}: ${(error as Error).message}`, { cause: error });
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new SkeinError("config", SKEIN_ERROR_CODES.BAD_OPTION, `the config file ${path} must hold an object of cluster options, got ${Array.isArray(value) ? "an array" : typeof value}`);
  }
  return value as Record<string, unknown>;
}
