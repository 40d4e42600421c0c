/** `wss://` with a cluster's temporary certificate: mutual authentication on real sockets. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { connect, formatTlsFile, listen, readTlsFile, type Listener, type TlsOptions } from "../src/index.js";

/** A self-signed certificate and key, made by the real openssl (the cluster makes its own with @peculiar/x509). */
function temporaryTls(name: string): { tls: TlsOptions; file: string } {
  const dir = mkdtempSync(join(tmpdir(), "skein-tls-"));
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", `/CN=${name}`, "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { stdio: "ignore" });
  const file = join(dir, "cluster.tls.pem");
  writeFileSync(file, formatTlsFile(readFileSync(join(dir, "cert.pem"), "utf8"), readFileSync(join(dir, "key.pem"), "utf8")), { mode: 0o600 });
  return { tls: readTlsFile(file), file };
}

let server: Listener | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("TLS", () => {
  const { tls } = temporaryTls("skein-cluster");
  const secret = "s3cret";

  it("serves wss:// and admits a client that presents the cluster's certificate", async () => {
    server = await listen({ host: "127.0.0.1", port: 0, secret, roles: ["client"], label: "test", tls, onConnection: () => {} });
    expect(server.address).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/);
    const { connection, welcome } = await connect(server.address, { role: "client", secret, name: "c", timeoutMs: 5000, label: "test", tls });
    expect(welcome.op).toBe("welcome");
    connection.close();
  });

  it("refuses a client with another certificate (mutual TLS)", async () => {
    server = await listen({ host: "127.0.0.1", port: 0, secret, roles: ["client"], label: "test", tls, onConnection: () => {} });
    const stranger = temporaryTls("someone-else").tls;
    await expect(connect(server.address, { role: "client", secret, name: "c", timeoutMs: 2000, label: "test", tls: stranger })).rejects.toMatchObject({ code: "SKEIN_ERR_AUTH_FAILED", message: expect.stringMatching(/TLS/) });
  });

  it("says what is missing when a wss:// address is dialled without TLS material", async () => {
    server = await listen({ host: "127.0.0.1", port: 0, secret, roles: ["client"], label: "test", tls, onConnection: () => {} });
    await expect(connect(server.address, { role: "client", secret, name: "c", timeoutMs: 2000, label: "test" })).rejects.toThrow(/uses TLS: give the cluster's certificate/);
  });

  it("refuses a plain ws:// client", async () => {
    server = await listen({ host: "127.0.0.1", port: 0, secret, roles: ["client"], label: "test", tls, onConnection: () => {} });
    await expect(connect(server.address.replace("wss://", "ws://"), { role: "client", secret, name: "c", timeoutMs: 2000, label: "test" })).rejects.toMatchObject({ code: "SKEIN_ERR_CONNECT_FAILED" });
  });

  it("refuses a TLS file that others can read", () => {
    const { file } = temporaryTls("x");
    execFileSync("chmod", ["644", file]);
    expect(() => readTlsFile(file)).toThrow(/can be read by other users \(mode 644\)/);
  });
});
