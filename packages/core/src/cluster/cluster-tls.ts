/**
 * TLS for a cluster (`tls: true`, or the user's own files). With `true`, the cluster makes a
 * temporary self-signed certificate for itself: every party (scheduler, workers, clients) presents
 * it and trusts nothing else, so every connection is mutually authenticated, and the key lives
 * only as long as the cluster, in a 0600 file next to the secret (jobs on other hosts read it from
 * the shared filesystem; it never goes into a job's environment, which `qstat -f` shows).
 * With `{ cert, key, ca }` the user's files are used as they are; jobs get their paths.
 */
import { webcrypto } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { formatTlsFile, readTlsFile, tlsFromEnvironment, type TlsOptions } from "@skein/transport";

/** What the `tls` option says: generate, or use these PEM files. */
export type TlsSetting = true | { readonly cert: string; readonly key: string; readonly ca: string; readonly checkServerNames?: boolean };

export interface ClusterTls {
  /** Certificate, key and CA for this process (scheduler and clients). */
  readonly options: TlsOptions;
  /** Environment that gives a worker (or a scheduler job) the same material. */
  readonly env: Readonly<Record<string, string>>;
  /** Remove what the cluster wrote (a temporary certificate). */
  remove(): void;
}

/** How long a temporary certificate is valid: longer than any walltime we expect, short enough to expire by itself. */
const TEMPORARY_CERTIFICATE_DAYS = 30;

/**
 * Set up TLS for cluster `name`. A temporary certificate goes into `nextTo`'s directory (the
 * cluster's private secret directory) when given, else into a new private temporary directory.
 */
export async function setUpClusterTls(setting: TlsSetting, name: string, nextTo?: string): Promise<ClusterTls> {
  if (setting !== true) {
    const env = { SKEIN_TLS_CERT: setting.cert, SKEIN_TLS_KEY: setting.key, SKEIN_TLS_CA: setting.ca, ...(setting.checkServerNames === false ? { SKEIN_TLS_CHECK_NAMES: "0" } : {}) };
    // Read (and check) them now: a wrong path or a key others can read fails here, not in every job.
    return { options: tlsFromEnvironment(env) as TlsOptions, env, remove: () => undefined };
  }
  const { cert, key } = await temporaryCertificate(name);
  const ownDirectory = nextTo ? undefined : mkdtempSync(join(tmpdir(), "skein-tls-"));
  const path = join(ownDirectory ?? dirname(nextTo as string), "tls.pem");
  writeFileSync(path, formatTlsFile(cert, key), { mode: 0o600, flag: "wx" });
  return {
    options: readTlsFile(path),
    env: { SKEIN_TLS_FILE: path },
    remove: () => rmSync(ownDirectory ?? path, { recursive: true, force: true }),
  };
}

/** A self-signed ECDSA P-256 certificate for `CN=skein-<name>`, usable as server and client certificate, and its PKCS#8 key (PEM). */
export async function temporaryCertificate(name: string): Promise<{ cert: string; key: string }> {
  // @peculiar/x509 needs the Reflect metadata API; both load only when a cluster asks for TLS.
  await import("reflect-metadata");
  const x509 = await import("@peculiar/x509");
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const notBefore = new Date(Date.now() - 60_000); // clocks of compute nodes drift
  const notAfter = new Date(Date.now() + TEMPORARY_CERTIFICATE_DAYS * 86_400_000);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString("hex").replace(/^[89a-f]/, "1"),
    name: `CN=skein-${name.replace(/[,=+<>#;"\\]/g, "_")}`,
    notBefore,
    notAfter,
    signingAlgorithm: algorithm,
    keys: keys as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]["keys"],
    extensions: [
      // Its own CA: each party trusts exactly this certificate.
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey)).toString("base64");
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.replace(/(.{64})/g, "$1\n").trimEnd()}\n-----END PRIVATE KEY-----\n`;
  return { cert: certificate.toString("pem"), key };
}
