/** Load configuration the way createCluster() does, without starting anything. */
import { resolveCluster, type ResolvedCluster } from "@skein/core";

export async function resolveConfig(configPath: string | undefined): Promise<ResolvedCluster> {
  const env = configPath ? { ...process.env, SKEIN_CONFIG: configPath } : process.env;
  return resolveCluster({}, { env });
}
