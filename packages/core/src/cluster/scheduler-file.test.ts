import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readSchedulerFile, removeSchedulerFile, schedulerFileTarget, waitForSchedulerFile, writeSchedulerFile } from "./scheduler-file.js";

const dir = mkdtempSync(join(tmpdir(), "skein-scheduler-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the scheduler file", () => {
  it("is written 0600 and read back; a missing one reads as undefined", () => {
    const path = join(dir, "a.json");
    expect(readSchedulerFile(path)).toBeUndefined();
    writeSchedulerFile(path, { address: "ws://node07:4000", dashboard: "http://node07:8787/?token=t", pid: 42, host: "node07" });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readSchedulerFile(path)).toEqual({ address: "ws://node07:4000", dashboard: "http://node07:8787/?token=t", pid: 42, host: "node07" });
  });

  it("refuses a file that is not a scheduler file, saying what it expected", () => {
    const path = join(dir, "bad.json");
    writeFileSync(path, '{"address": "node07:4000"}');
    expect(() => readSchedulerFile(path)).toThrow(/not a Skein scheduler file: expected \{ "address": "ws:\/\/host:port"/);
    writeFileSync(path, "{");
    expect(() => readSchedulerFile(path)).toThrow(/is not JSON/);
  });

  it("is removed only by the scheduler that wrote it", () => {
    const path = join(dir, "mine.json");
    writeSchedulerFile(path, { address: "ws://h:1", pid: 7, host: "h" });
    removeSchedulerFile(path, 8);
    expect(readSchedulerFile(path)).toBeDefined();
    removeSchedulerFile(path, 7);
    expect(readSchedulerFile(path)).toBeUndefined();
    expect(() => removeSchedulerFile(path, 7)).not.toThrow();
  });

  it("can be waited for, and the wait says where it looked when it times out", async () => {
    const path = join(dir, "later.json");
    setTimeout(() => writeSchedulerFile(path, { address: "ws://h:2", pid: 1, host: "h" }), 300);
    await expect(waitForSchedulerFile(path, { timeoutMs: 5000 })).resolves.toMatchObject({ address: "ws://h:2" });
    await expect(waitForSchedulerFile(join(dir, "never.json"), { timeoutMs: 200 })).rejects.toThrow(/no scheduler file at .*never\.json after 0 s/);
    await expect(waitForSchedulerFile(join(dir, "never.json"), { timeoutMs: 5000, check: () => Promise.reject(new Error("the job died")) })).rejects.toThrow("the job died");
  });

  it("gives a client the address and the secret from the secret file it names", async () => {
    const secretFile = join(dir, "secret");
    writeFileSync(secretFile, "s3cret\n", { mode: 0o600 });
    const path = join(dir, "with-secret.json");
    writeSchedulerFile(path, { address: "ws://h:3", pid: 1, host: "h", secretFile });
    const saved = { secret: process.env.SKEIN_SECRET, file: process.env.SKEIN_SECRET_FILE };
    delete process.env.SKEIN_SECRET;
    delete process.env.SKEIN_SECRET_FILE;
    try {
      await expect(schedulerFileTarget(path, { timeoutMs: 1000 })).resolves.toEqual({ address: "ws://h:3", secret: "s3cret" });
      await expect(schedulerFileTarget(path, { timeoutMs: 1000, secret: "given" })).resolves.toEqual({ address: "ws://h:3", secret: "given" });
    } finally {
      if (saved.secret !== undefined) process.env.SKEIN_SECRET = saved.secret;
      if (saved.file !== undefined) process.env.SKEIN_SECRET_FILE = saved.file;
    }
  });
});
