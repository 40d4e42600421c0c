/**
 * Backends by name: "local", "pbs" (or "torque"), "slurm", "ssh", "sge" are Skein's own packages, installed on demand
 * (`npm install @skein/backend-pbs`); anything else is a module path or package name of your own
 * that exports `createBackend`.
 */
import { createRequire } from "node:module";
import { isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { SKEIN_ERROR_CODES, SkeinError } from "@skein/serialization";
import type { ClusterBackend } from "../cluster/backend.js";

export interface BackendContext {
  /** Where an option came from, for error messages. */
  sourceOf(key: string): string;
  /** Directory relative paths resolve against (the config file's). */
  readonly baseDir: string;
}

/** What a backend module exports. */
export interface BackendModule {
  /** Build the backend from its own options (everything that is not a common cluster option). Throws BAD_OPTION errors naming the key and its source. */
  createBackend(options: Record<string, unknown>, context: BackendContext): ClusterBackend | Promise<ClusterBackend>;
  /** Option names this backend accepts; unknown ones are then reported with a suggestion. */
  readonly optionKeys?: readonly string[];
}

export const BUILTIN_BACKENDS: Readonly<Record<string, string>> = {
  local: "@skein/backend-local",
  pbs: "@skein/backend-pbs",
  torque: "@skein/backend-pbs",
  slurm: "@skein/backend-slurm",
  ssh: "@skein/backend-ssh",
  sge: "@skein/backend-sge",
};

export async function loadBackendModule(name: string, baseDir: string): Promise<BackendModule> {
  const builtin = BUILTIN_BACKENDS[name];
  const specifier = builtin ?? name;
  let module: Partial<BackendModule>;
  try {
    module = (await importFrom(specifier, baseDir)) as Partial<BackendModule>;
  } catch (error) {
    const hint = builtin
      ? `backend "${name}" needs the package ${builtin}: npm install ${builtin}`
      : `backend "${name}" is not one of ${Object.keys(BUILTIN_BACKENDS).join(", ")}, and it could not be imported as a module from ${baseDir}`;
    throw new SkeinError("config", SKEIN_ERROR_CODES.BACKEND_NOT_FOUND, `${hint} (${(error as Error).message})`, { cause: error });
  }
  if (typeof module.createBackend !== "function") {
    throw new SkeinError(
      "config",
      SKEIN_ERROR_CODES.BACKEND_NOT_FOUND,
      `backend module ${specifier} does not export a createBackend function (it exports: ${Object.keys(module).join(", ") || "nothing"})`,
    );
  }
  return module as BackendModule;
}

async function importFrom(specifier: string, baseDir: string): Promise<unknown> {
  if (specifier.startsWith(".") || isAbsolute(specifier)) return import(pathToFileURL(resolve(baseDir, specifier)).href);
  if (specifier.startsWith("file:")) return import(specifier);
  try {
    // The user's own installation first (their node_modules), then ours.
    return await import(pathToFileURL(createRequire(join(baseDir, "noop.js")).resolve(specifier)).href);
  } catch (error) {
    if ((error as { code?: string }).code !== "MODULE_NOT_FOUND") throw error;
    return import(specifier);
  }
}
