/** `skein job-script`: print what `scale()` would submit with the current configuration. */
import { previewJobScript } from "@skein/core";
import { EXIT_CODES } from "../exit-codes.js";
import { resolveConfig } from "./resolve-config.js";

export async function runJobScript(flags: { config?: string }): Promise<number> {
  const { backend, settings } = await resolveConfig(flags.config);
  const script = previewJobScript(backend, settings);
  process.stdout.write(script.endsWith("\n") ? script : `${script}\n`);
  return EXIT_CODES.OK;
}
