/**
 * Where a process finds its TLS material: `SKEIN_TLS_FILE`, one 0600 PEM file holding a cluster's
 * temporary certificate and key (the certificate is also the only CA trusted: every party of the
 * cluster presents it, so connections are mutually authenticated and names are not checked); or
 * `SKEIN_TLS_CERT` / `SKEIN_TLS_KEY` / `SKEIN_TLS_CA`, the user's own files (mutual TLS, server
 * names checked unless `SKEIN_TLS_CHECK_NAMES=0`).
 */
import { readFileSync, statSync } from "node:fs";
import { SKEIN_ERROR_CODES, SkeinError } from "@skein/serialization/errors";
import type { TlsOptions } from "./handshake.js";

export const TLS_FILE_ENV = "SKEIN_TLS_FILE";
/**
 * The TLS file's text itself, base64: how workers started over ssh get it (the session's stdin
 * carries it, like the secret, where the hosts share no filesystem).
 */
export const TLS_PEM_ENV = "SKEIN_TLS_PEM";

/** TLS options from the environment, or undefined when none is configured. */
export function tlsFromEnvironment(env: NodeJS.ProcessEnv = process.env): TlsOptions | undefined {
  if (env[TLS_PEM_ENV]) return parseTlsText(Buffer.from(env[TLS_PEM_ENV] as string, "base64").toString("utf8"), TLS_PEM_ENV);
  if (env[TLS_FILE_ENV]) return readTlsFile(env[TLS_FILE_ENV] as string);
  const { SKEIN_TLS_CERT: cert, SKEIN_TLS_KEY: key, SKEIN_TLS_CA: ca } = env;
  if (!cert && !key && !ca) return undefined;
  if (!cert || !key || !ca) {
    throw new SkeinError("tls", SKEIN_ERROR_CODES.BAD_OPTION, "mutual TLS needs all of SKEIN_TLS_CERT, SKEIN_TLS_KEY and SKEIN_TLS_CA (paths to PEM files)");
  }
  return {
    cert: readPem(cert, "SKEIN_TLS_CERT", false),
    key: readPem(key, "SKEIN_TLS_KEY", true),
    ca: readPem(ca, "SKEIN_TLS_CA", false),
    checkServerName: env.SKEIN_TLS_CHECK_NAMES !== "0",
  };
}

/** A cluster's temporary TLS file: certificate and key in one private PEM file. */
export function readTlsFile(path: string): TlsOptions {
  return parseTlsText(readPem(path, TLS_FILE_ENV, true), `the TLS file ${path}`);
}

function parseTlsText(pem: string, what: string): TlsOptions {
  const cert = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\s*/g)?.join("") ?? "";
  const key = pem.match(/-----BEGIN (?:EC |RSA )?PRIVATE KEY-----[\s\S]+?-----END (?:EC |RSA )?PRIVATE KEY-----\s*/)?.[0] ?? "";
  if (!cert || !key) throw new SkeinError("tls", SKEIN_ERROR_CODES.BAD_OPTION, `${what} must hold a certificate and a private key (PEM)`);
  return { cert, key, ca: cert, checkServerName: false };
}

/** Join a certificate and its key into the text of a TLS file (see readTlsFile). */
export function formatTlsFile(cert: string, key: string): string {
  return `${cert.trim()}\n${key.trim()}\n`;
}

function readPem(path: string, what: string, secret: boolean): string {
  let text: string;
  let mode: number;
  try {
    mode = statSync(path).mode;
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new SkeinError("tls", SKEIN_ERROR_CODES.BAD_OPTION, `cannot read ${path} (${what}): ${(error as Error).message}`, { cause: error });
  }
  // A private key others can read is no longer private: refuse it, as for the secret file.
  if (secret && (mode & 0o077) !== 0) {
    throw new SkeinError("tls", SKEIN_ERROR_CODES.BAD_OPTION, `${path} (${what}) holds a private key and can be read by other users (mode ${(mode & 0o777).toString(8)}); run: chmod 600 ${path}`);
  }
  return text;
}
