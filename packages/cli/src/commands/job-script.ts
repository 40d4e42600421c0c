/** `skein job-script`: print what `scale()` would submit with the current configuration. */
import { EXIT_CODES } from "../exit-codes.js";
import { previewJobScript, resolveConfig } from "./resolve-config.js";

export async function runJobScript(flags: { config?: string }): Promise<number> {
  const config = await resolveConfig(flags.config);
  process.stdout.write(previewJobScript(config));
  if (!previewJobScript(config).endsWith("\n")) process.stdout.write("\n");
  return EXIT_CODES.OK;
}
