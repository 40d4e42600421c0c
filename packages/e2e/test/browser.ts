/** Debian's Chromium for the browser tests (playwright-core, no browser download), and where screenshots go. */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const CHROMIUM = process.env.SKEIN_CHROMIUM ?? "/usr/bin/chromium";
/**
 * As root (CI) Chromium needs --no-sandbox; the rest keep it from reaching for Google's services,
 * which this machine's closed network refuses (see the machine notes for the node kind).
 */
export const LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
export const ARTEFACTS = fileURLToPath(new URL("../../../test-results/dashboard/", import.meta.url));

/** The same gate as @skein/backend-testkit's requireService: fail in CI, skip with a reason elsewhere. */
export function chromiumGate(env: NodeJS.ProcessEnv = process.env): { skip: boolean; reason?: string } {
  let problem: string | undefined;
  if (!existsSync(CHROMIUM)) problem = `${CHROMIUM} does not exist`;
  else {
    const version = spawnSync(CHROMIUM, ["--version"], { encoding: "utf8", timeout: 30_000 });
    if (version.error || version.status !== 0) problem = `\`${CHROMIUM} --version\` failed: ${version.error?.message ?? (version.stderr || version.stdout).trim()}`;
  }
  if (problem === undefined) return { skip: false };
  const ci = env.CI?.trim().toLowerCase();
  if (ci && ci !== "false" && ci !== "0") throw new Error(`[dashboard] Chromium is required in CI (CI=${env.CI}) but ${problem}. Install it first: apt-get install -y chromium`);
  return { skip: true, reason: `[dashboard] skipping the browser tests: Chromium not available (${problem}); install it with \`apt-get install -y chromium\` (or set SKEIN_CHROMIUM)` };
}
