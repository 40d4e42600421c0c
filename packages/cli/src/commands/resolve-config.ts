/** Load configuration the way createCluster() does, without starting anything. */
import { buildJobSpec, defaultWorkerCommand, resolveCluster, type ResolvedCluster } from "@skein/core";

export async function resolveConfig(configPath: string | undefined): Promise<ResolvedCluster> {
  const env = configPath ? { ...process.env, SKEIN_CONFIG: configPath } : process.env;
  return resolveCluster({}, { env });
}

/** The job script for job 0, with a placeholder scheduler address (the real one is known only when a cluster starts). */
export function previewJobScript(config: ResolvedCluster): string {
  const spec = buildJobSpec(config.settings, {
    index: 0,
    schedulerAddress: "ws://<scheduler-host>:<port>",
    secret: "<secret: passed by environment or file, never in the script>",
    workerCommand: config.settings.workerCommand ?? defaultWorkerCommand(),
  });
  return config.backend.jobScript(spec);
}
