/**
 * Sites that forbid sending code by value can restrict a worker to functions by reference, from
 * module roots they trust (`--allowed-modules /shared/lab-code,@lab/sim`). Checked in the executor
 * thread, where the code would run.
 */
import { isAbsolute, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export interface ModulePolicy {
  /** Absolute directories whose files may be imported. */
  readonly roots: readonly string[];
  /** Package names (and their subpaths) that may be imported. */
  readonly packages: readonly string[];
}

/** "/shared/code,@lab/sim,numeric-utils" → roots and packages. Undefined when there is no list. */
export function parseModulePolicy(list: readonly string[] | undefined): ModulePolicy | undefined {
  if (!list || list.length === 0) return undefined;
  const roots: string[] = [];
  const packages: string[] = [];
  for (const entry of list) {
    if (entry.startsWith("file:")) roots.push(fileURLToPath(entry));
    else if (isAbsolute(entry)) roots.push(resolve(entry));
    else packages.push(entry);
  }
  return { roots, packages };
}

/** Why `spec` may not run under `policy`, or undefined when it may. */
export function refusal(policy: ModulePolicy, spec: { kind: "source"; name: string } | { kind: "module"; module: string }): string | undefined {
  if (spec.kind === "source") {
    return `this worker runs only functions by reference (allowed modules: ${describe(policy)}); "${spec.name}" was sent by value. Send it as { module, export } from an allowed module.`;
  }
  const specifier = spec.module;
  if (specifier.startsWith("file:")) {
    const path = fileURLToPath(specifier);
    const inside = policy.roots.some((root) => {
      const rel = relative(root, path);
      return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
    });
    return inside ? undefined : `module ${path} is outside the allowed module roots (${describe(policy)})`;
  }
  // Other schemes (node:, data:, https:) are never package names; and "pkg/../other" would
  // resolve outside the package it names.
  if (specifier.includes(":") || specifier.split("/").some((part) => part === ".." || part === ".")) {
    return `module ${specifier} is not in the allowed modules (${describe(policy)})`;
  }
  const ok = policy.packages.some((name) => specifier === name || specifier.startsWith(`${name}/`));
  return ok ? undefined : `package ${specifier} is not in the allowed modules (${describe(policy)})`;
}

function describe(policy: ModulePolicy): string {
  return [...policy.roots, ...policy.packages].join(", ") || "none";
}
