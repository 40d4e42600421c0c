import { createRequire } from "node:module";

/** This package's version (all @skein packages share one version). */
export function version(): string {
  return (createRequire(import.meta.url)("../package.json") as { version: string }).version;
}
