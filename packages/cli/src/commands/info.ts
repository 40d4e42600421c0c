/** `skein info`: where the configuration comes from, what it resolves to, and which backend runs. */
import { createRequire } from "node:module";
import { BUILTIN_BACKENDS, defaultWorkerCommand, formatBytes, formatWalltime } from "@skein/core";
import { EXIT_CODES } from "../exit-codes.js";
import { version } from "../version.js";
import { resolveConfig } from "./resolve-config.js";

export async function runInfo(flags: { config?: string }): Promise<number> {
  const config = await resolveConfig(flags.config);
  const { loaded, settings, backend, sourceOf } = config;
  const lines: string[] = [];
  lines.push(`skein ${version()} on node ${process.version}`);
  lines.push("");
  lines.push("Configuration sources (later ones win):");
  for (const file of loaded.files) lines.push(`  file  ${file}`);
  const envKeys = Object.entries(loaded.sources).filter(([, s]) => s.startsWith("environment"));
  for (const [, source] of envKeys) lines.push(`  env   ${source.replace("environment variable ", "")}`);
  if (loaded.files.length === 0 && envKeys.length === 0) lines.push("  (none: defaults only)");
  lines.push("");
  lines.push(`Backend: ${backend.name} (${describeBackendPackage(settings.backend)})`);
  lines.push(`  from ${sourceOf("backend")}`);
  lines.push("");
  lines.push("Cluster:");
  const rows: [string, string, string][] = [
    ["name", settings.name, sourceOf("name")],
    ["cores", String(settings.cores), sourceOf("cores")],
    ["processes", String(settings.processes), sourceOf("processes")],
    ["threads per worker", String(settings.threadsPerWorker), "cores / processes"],
    ["memory", settings.memoryBytes === undefined ? "-" : formatBytes(settings.memoryBytes), sourceOf("memory")],
    ["walltime", settings.walltimeSeconds === undefined ? "-" : formatWalltime(settings.walltimeSeconds), sourceOf("walltime")],
    ["interface", settings.interface ?? "-", sourceOf("interface")],
  ];
  for (const [key, value, source] of rows) lines.push(`  ${key.padEnd(20)} ${value.padEnd(16)} ${value === "-" ? "" : source}`);
  lines.push("");
  let workerCommand: string;
  try {
    workerCommand = (settings.workerCommand ?? defaultWorkerCommand()).join(" ");
  } catch (error) {
    workerCommand = `not found: ${(error as Error).message}`;
  }
  lines.push(`Worker command: ${workerCommand}`);
  process.stdout.write(`${lines.join("\n")}\n`);
  return EXIT_CODES.OK;
}

function describeBackendPackage(name: string): string {
  const pkg = BUILTIN_BACKENDS[name];
  if (!pkg) return `custom module ${name}`;
  try {
    return `${pkg} at ${createRequire(`${process.cwd()}/noop.js`).resolve(pkg)}`;
  } catch {
    return `${pkg}`;
  }
}
