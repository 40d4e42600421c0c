/**
 * Where a process finds the cluster secret: `SKEIN_SECRET`, or a file named by `SKEIN_SECRET_FILE`
 * (0600, on the shared filesystem for batch jobs). Never a command-line argument: `ps` shows those
 * to every user of the machine.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { SKEIN_ERROR_CODES, SkeinError } from "@skein/serialization/errors";

export const SECRET_ENV = "SKEIN_SECRET";
export const SECRET_FILE_ENV = "SKEIN_SECRET_FILE";

/** A fresh random secret for a new cluster. */
export function generateSecret(): string {
  return randomBytes(32).toString("base64url");
}

/** The secret from the environment, or undefined when neither variable is set. */
export function secretFromEnvironment(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const direct = env[SECRET_ENV];
  if (direct) return direct;
  const file = env[SECRET_FILE_ENV];
  if (!file) return undefined;
  return readSecretFile(file);
}

/** Read a secret file, refusing one that other users can read. */
export function readSecretFile(path: string): string {
  let mode: number;
  let text: string;
  try {
    mode = statSync(path).mode;
    text = readFileSync(path, "utf8").trim();
  } catch (error) {
    throw new SkeinError("secret", SKEIN_ERROR_CODES.BAD_OPTION, `cannot read the secret file ${path} (${SECRET_FILE_ENV}): ${(error as Error).message}`, { cause: error });
  }
  if ((mode & 0o077) !== 0) {
    throw new SkeinError(
      "secret",
      SKEIN_ERROR_CODES.BAD_OPTION,
      `the secret file ${path} can be read by other users (mode ${(mode & 0o777).toString(8)}); run: chmod 600 ${path}`,
    );
  }
  if (text.length === 0) throw new SkeinError("secret", SKEIN_ERROR_CODES.BAD_OPTION, `the secret file ${path} is empty`);
  return text;
}
