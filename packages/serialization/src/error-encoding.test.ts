import { describe, expect, it } from "vitest";
import { decodeValue, encodeValue } from "./codec.js";
import { KilledWorkerError, RemoteTaskError, decodeError, encodeError } from "./error-encoding.js";
import { SKEIN_ERROR_CODES, SkeinError, isSkeinError } from "./errors.js";

function roundTrip<T>(value: T): T {
  return decodeValue(encodeValue(value).bytes) as T;
}

describe("error encoding", () => {
  it("keeps name, message, code, primitive fields and the stack across the wire", () => {
    const error = Object.assign(new RangeError("too big"), { code: "E_BIG", limit: 10, path: "/x", nested: { no: 1 } });
    const back = roundTrip(encodeError(error));
    expect(back).toMatchObject({ name: "RangeError", message: "too big", code: "E_BIG", props: { limit: 10, path: "/x" } });
    expect(back.props).not.toHaveProperty("nested");
    expect(back.stack).toContain("error-encoding.test.ts");
  });

  it("keeps the cause chain", () => {
    const error = new Error("outer", { cause: new TypeError("inner") });
    expect(encodeError(error).cause).toMatchObject({ name: "TypeError", message: "inner" });
  });

  it("describes non-Error throws", () => {
    expect(encodeError("oops")).toEqual({ name: "NonErrorThrown", message: 'a non-Error value was thrown: "oops"' });
    expect(encodeError({ reason: 1 }).message).toContain('{"reason":1}');
  });

  it("becomes a RemoteTaskError with the key, remote name and remote stack first", () => {
    const remote = encodeError(new TypeError("x is not a function"));
    const error = decodeError(remote, "client", "multiply-1") as RemoteTaskError;
    expect(error).toBeInstanceOf(RemoteTaskError);
    expect(error.code).toBe(SKEIN_ERROR_CODES.TASK_FAILED);
    expect(error.key).toBe("multiply-1");
    expect(error.remoteName).toBe("TypeError");
    expect(error.message).toBe("[skein] [task] task multiply-1 failed: TypeError: x is not a function");
    expect(error.stack?.indexOf("remote stack")).toBeLessThan(error.stack?.indexOf("local stack") ?? -1);
    expect(isSkeinError(error)).toBe(true);
  });

  it("keeps Skein error codes when a Skein error crosses the wire", () => {
    const remote = encodeError(new SkeinError("worker", SKEIN_ERROR_CODES.DATA_LOST, "gone"));
    const error = decodeError(remote, "client");
    expect(error).toMatchObject({ code: "SKEIN_ERR_DATA_LOST", message: "[skein] [client] gone" });
  });
});

describe("KilledWorkerError", () => {
  it("is what a task killed on too many workers decodes to: a RemoteTaskError naming them", () => {
    const error = decodeError(
      { name: "KilledWorkerError", code: SKEIN_ERROR_CODES.KILLED_WORKER, message: "task t-1 was running on 2 workers that died", props: { workers: "w-0,w-1" } },
      "client",
      "t-1",
    );
    expect(error).toBeInstanceOf(KilledWorkerError);
    expect(error).toBeInstanceOf(RemoteTaskError);
    expect(error).toMatchObject({ name: "KilledWorkerError", key: "t-1", code: SKEIN_ERROR_CODES.TASK_FAILED, workers: ["w-0", "w-1"] });
  });

  it("other task errors stay plain RemoteTaskErrors", () => {
    const error = decodeError({ name: "TypeError", message: "x is not a function" }, "client", "t-2");
    expect(error).toBeInstanceOf(RemoteTaskError);
    expect(error).not.toBeInstanceOf(KilledWorkerError);
  });
});
