/**
 * For workers on other hosts, the secret travels as a 0600 file on the shared filesystem: a job's
 * environment is shown to other users by `qstat -f` on many sites, a file readable only by its
 * owner is not.
 */
import { randomUUID } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface SecretFile {
  readonly path: string;
  remove(): void;
}

export function writeSecretFile(sharedDirectory: string, clusterName: string, secret: string): SecretFile {
  const dir = join(sharedDirectory, "clusters", `${clusterName}-${randomUUID().slice(0, 8)}`);
  // 0700 directories all the way, so neither the file nor its name leak to other users.
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, "secret");
  writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: "wx" });
  return {
    path,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
