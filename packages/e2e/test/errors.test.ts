/** Task errors reach the caller with the key and the remote stack; bad input gets a clear SkeinError. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client, RemoteTaskError, fnRef, type Future } from "@skein/core";
import { expectNoProcessesLeft, startLocal, type LocalSetup } from "./helpers.js";

let setup: LocalSetup;
let client: Client;

beforeAll(async () => {
  setup = await startLocal(2);
  client = setup.client;
});
afterAll(async () => {
  await setup?.close();
  await expectNoProcessesLeft();
});

describe("task errors", () => {
  it("carry the task key, the remote error's name and message, and the remote stack", async () => {
    function parseRecord(line: string) {
      if (!line.includes(",")) throw new SyntaxError(`not a CSV record: ${line}`);
      return line.split(",");
    }
    const f = client.submit(parseRecord, "no commas here");
    const error = (await f.exception()) as RemoteTaskError;
    expect(error).toBeInstanceOf(RemoteTaskError);
    expect(error).toMatchObject({ code: "SKEIN_ERR_TASK_FAILED", key: f.key, remoteName: "SyntaxError", remoteMessage: "not a CSV record: no commas here" });
    expect(error.message).toBe(`[skein] [task] task ${f.key} failed: SyntaxError: not a CSV record: no commas here`);
    expect(error.remoteStack).toContain("(skein-function:parseRecord:");
    expect(error.stack).toContain("--- remote stack (worker) ---");
  });

  it("reach the caller of a dependent task, naming the task that raised", async () => {
    const failing = client.submit((x: number) => {
      if (x > 0) throw new Error("upstream broke");
      return x;
    }, 1);
    const dependent = client.submit((x: number) => x + 1, failing as unknown as number);
    await expect(dependent.result()).rejects.toMatchObject({ key: failing.key, remoteMessage: "upstream broke" });
  });

  it("keep the workers going", async () => {
    const fs = Array.from({ length: 10 }, (_, i) =>
      client.submit((n: number) => {
        if (n % 2) throw new Error(`odd ${n}`);
        return n;
      }, i),
    );
    await client.wait(fs);
    expect(fs.map((f) => f.status)).toEqual(fs.map((_, i) => (i % 2 ? "error" : "finished")));
    expect(await client.submit((x: number) => x * 3, 3).result()).toBe(9);
  });

  it("explain a closure over a name the worker lacks, naming the name", async () => {
    const rate = 0.5;
    const f = client.submit((x: number) => x * rate, 10);
    await expect(f.result()).rejects.toThrow(/uses "rate", which does not exist on the worker.*Pass "rate" as an argument/);
  });

  it("keep code and own fields of the remote error", async () => {
    const f = client.submit(() => {
      throw Object.assign(new Error("disk"), { code: "ENOSPC", path: "/scratch" });
    });
    expect(await f.exception()).toMatchObject({ remoteCode: "ENOSPC", remoteProps: { path: "/scratch" } });
  });

  it("describe values that are not Errors", async () => {
    const f = client.submit(() => {
      throw "a string";
    });
    expect(await f.exception()).toMatchObject({ remoteName: "NonErrorThrown", remoteMessage: 'a non-Error value was thrown: "a string"' });
  });

  it("name a result that cannot be sent back", async () => {
    const f = client.submit(() => ({ callback: () => 1 }));
    await expect(f.result()).rejects.toMatchObject({ remoteMessage: expect.stringContaining("value.callback is a function") });
  });
});

describe("functions by reference", () => {
  const dir = mkdtempSync(join(tmpdir(), "skein-ref-"));
  const module = join(dir, "stats.mjs");
  writeFileSync(module, "export function mean(xs) { return xs.reduce((a, b) => a + b, 0) / xs.length; }\nexport default (x) => x + 100;\nexport const notAFunction = 3;\n");
  const url = pathToFileURL(module).href;

  it("import the module on the worker and call the export", async () => {
    const mean = fnRef<(xs: number[]) => number>(url, "mean");
    expect(await client.submit(mean, [1, 2, 3, 6]).result()).toBe(3);
    expect(await client.submit({ module: url, export: "default" }, 1).result()).toBe(101);
  });

  it("work with package names the worker can resolve", async () => {
    const join = fnRef<(...parts: string[]) => string>("node:path", "join");
    expect(await client.submit(join, "/a", "b").result()).toBe("/a/b");
  });

  it("say which exports exist when the name is wrong", async () => {
    const f = client.submit({ module: url, export: "median" }, [1]);
    await expect(f.result()).rejects.toThrow(/has no function export "median"; its function exports are: default, mean/);
  });

  it("refuse relative paths on the client", () => {
    expect(() => client.submit({ module: "./stats.mjs", export: "mean" })).toThrow(/is a path; workers may run in another directory/);
  });
});

describe("bad input", () => {
  it("a non-function to submit", () => {
    expect(() => client.submit(42 as never)).toThrowError(expect.objectContaining({ code: "SKEIN_ERR_BAD_FUNCTION", message: expect.stringContaining("expected a function or a function reference") }));
    expect(() => client.map("f" as never, [1])).toThrow(/expected a function/);
  });

  it("a native or bound function", () => {
    expect(() => client.submit(Math.sqrt, 4)).toThrow(/native function and cannot be sent by value/);
    expect(() => client.submit(((x: number) => x).bind(null), 1)).toThrow(/bound function/);
  });

  it("a function whose source cannot compile on its own", () => {
    class Account {
      #balance = 1;
      read() {
        return this.#balance;
      }
    }
    expect(() => client.submit(Account.prototype.read)).toThrowError(expect.objectContaining({ code: "SKEIN_ERR_BAD_FUNCTION", message: expect.stringContaining('"read" does not compile on its own') }));
  });

  it("an unknown per-call option and a wrong type", () => {
    expect(() => client.with({ prio: 1 } as never)).toThrow(/unknown option "prio"/);
    expect(() => client.with({ pure: "yes" } as never)).toThrow(/option "pure" from task options must be true or false, got "yes"/);
  });

  it("a future from another client", async () => {
    const other = await Client.connect(setup.cluster);
    try {
      const theirs = other.submit((x: number) => x, 1);
      expect(() => client.submit((x: number) => x, theirs as unknown as number)).toThrowError(expect.objectContaining({ code: "SKEIN_ERR_FOREIGN_FUTURE" }));
      await expect(client.gather([theirs])).rejects.toMatchObject({ code: "SKEIN_ERR_FOREIGN_FUTURE" });
    } finally {
      await other.close();
    }
  });

  it("a released future passed to a task", () => {
    const f = client.submit((x: number) => x, 1);
    f.release();
    expect(() => client.submit((x: number) => x, f as unknown as number)).toThrow(/was released/);
    expect(() => f.result()).toThrow(/it was released/);
  });

  it("a closed client", async () => {
    const other = await Client.connect(setup.cluster);
    const pending = other.submit(() => new Promise((r) => setTimeout(r, 10_000)));
    await other.close();
    expect(() => other.submit((x: number) => x, 1)).toThrowError(expect.objectContaining({ code: "SKEIN_ERR_CLOSED", message: expect.stringContaining("this client is closed") }));
    await expect(pending.result()).rejects.toMatchObject({ code: "SKEIN_ERR_CLOSED" });
  });

  it("a scheduler address that does not answer: times out naming the address", async () => {
    const started = Date.now();
    await expect(Client.connect("ws://127.0.0.1:9", { secret: "x", timeout: 500 })).rejects.toMatchObject({
      code: "SKEIN_ERR_CONNECT_FAILED",
      message: expect.stringContaining("could not connect to ws://127.0.0.1:9 within 500 ms"),
    });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("a malformed address or missing secret", async () => {
    await expect(Client.connect("127.0.0.1:8786", { secret: "x" })).rejects.toThrow(/must start with ws:\/\//);
    await expect(Client.connect("ws://127.0.0.1:8786", { timeout: 100 })).rejects.toThrow(/no secret for ws:\/\/127.0.0.1:8786/);
    await expect(Client.connect(undefined as never)).rejects.toThrow(/needs a cluster or a scheduler address/);
  });

  it("values that cannot be sent as arguments", () => {
    expect(() => client.submit((o: unknown) => o, { onDone() {} })).toThrowError(expect.objectContaining({ code: "SKEIN_ERR_NOT_SERIALIZABLE", message: expect.stringContaining("value[0].onDone is a function") }));
  });

  it("a map input that is not iterable", () => {
    expect(() => client.map((x: number) => x, 5 as never)).toThrow(/map input 1 must be an array or other iterable, got number/);
  });
});

// Keep `Future` referenced for the type-only import above.
export type { Future };
