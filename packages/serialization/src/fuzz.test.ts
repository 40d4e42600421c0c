/**
 * Hostile and broken input never gets past the codec and the parser as anything but a clear
 * PROTOCOL error: random bytes, truncated frames, huge length fields, deep nesting, wrong types
 * in every field, unknown ops.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeFrame, encodeFrame } from "./codec.js";
import { isSkeinError } from "./errors.js";
import { MESSAGE_SCHEMAS } from "./messages.js";
import { parseMessage } from "./parse-message.js";

/** Decode and parse like a receiver does; report what happened instead of throwing. */
function receive(bytes: Uint8Array): "ok" | "protocol-error" | Error {
  try {
    for (const raw of decodeFrame(bytes)) {
      try {
        parseMessage(raw);
      } catch (error) {
        if (isSkeinError(error) && error.code === "SKEIN_ERR_PROTOCOL") continue;
        return error as Error;
      }
    }
    return "ok";
  } catch (error) {
    return isSkeinError(error) && error.code === "SKEIN_ERR_PROTOCOL" ? "protocol-error" : (error as Error);
  }
}

const expectHandled = (bytes: Uint8Array) => {
  const outcome = receive(bytes);
  if (outcome instanceof Error) throw outcome;
};

const validFrame = encodeFrame([
  { op: "hello", role: "client", protocol: 2, secret: "s", name: "n" },
  { op: "compute-task", key: "k", fnHash: "h", args: new Uint8Array([1, 2, 3]), deps: [{ key: "d", nbytes: 1, whoHas: ["ws://x"] }], priority: [0, 1], stimulusId: "s" },
  { op: "get-data", requestId: 1, keys: ["a", "b"] },
]);

describe("the codec and parser under hostile input", () => {
  it("answer any random bytes with a frame or a PROTOCOL error", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => expectHandled(bytes)), { numRuns: 3000 });
  });

  it("answer every truncation of a valid frame with a PROTOCOL error", () => {
    for (let cut = 0; cut < validFrame.length; cut++) {
      const outcome = receive(validFrame.subarray(0, cut));
      expect(outcome, `cut at ${cut}`).toBe("protocol-error");
    }
  });

  it("answer single-byte corruptions of a valid frame without crashing", () => {
    fc.assert(
      fc.property(fc.nat(validFrame.length - 1), fc.integer({ min: 0, max: 255 }), (at, value) => {
        const bytes = Uint8Array.from(validFrame);
        bytes[at] = value;
        expectHandled(bytes);
      }),
      { numRuns: 3000 },
    );
  });

  it.each([
    ["an array of 2^32 elements", [0x9a, 0xff, 0xff, 0xff, 0xff]],
    ["an array of 2^63 elements", [0x9b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]],
    ["a map of 2^32 entries", [0xba, 0xff, 0xff, 0xff, 0xff]],
    ["a byte string of 2^32 bytes", [0x81, 0x5a, 0xff, 0xff, 0xff, 0xff]],
    ["a text string of 2^32 bytes", [0x81, 0x7a, 0xff, 0xff, 0xff, 0xff]],
  ])("refuse %s from its length header, before allocating", (_name, header) => {
    expect(receive(Uint8Array.from(header))).toBe("protocol-error");
  });

  it("refuse nesting deep enough to exhaust the stack", () => {
    const depth = 200_000;
    const bytes = new Uint8Array(depth + 1).fill(0x81);
    bytes[depth] = 0x00;
    expect(receive(bytes)).toBe("protocol-error");
  });

  it("reject any value in place of a message unless it is one", () => {
    fc.assert(
      fc.property(fc.anything({ withMap: true, withSet: true, withBigInt: true, withTypedArray: true, withDate: true }), (value) => {
        const outcome = receive(encodeFrame([value]));
        if (outcome instanceof Error) throw outcome;
      }),
      { numRuns: 2000 },
    );
  });

  it("reject wrong values in every field of every message", () => {
    const ops = Object.keys(MESSAGE_SCHEMAS);
    fc.assert(
      fc.property(fc.constantFrom(...ops), fc.dictionary(fc.string({ maxLength: 12 }), fc.anything(), { maxKeys: 8 }), (op, fields) => {
        const outcome = receive(encodeFrame([{ ...fields, op }]));
        if (outcome instanceof Error) throw outcome;
      }),
      { numRuns: 3000 },
    );
  });

  it("answer compact messages (arrays) of any content with a message or a PROTOCOL error", () => {
    fc.assert(
      fc.property(fc.integer({ min: -1, max: 9 }), fc.array(fc.anything({ withTypedArray: true }), { maxLength: 12 }), (code, values) => {
        const outcome = receive(encodeFrame([[code, ...values]]));
        if (outcome instanceof Error) throw outcome;
      }),
      { numRuns: 3000 },
    );
  });

  it("report unknown ops by name", () => {
    expect(() => parseMessage({ op: "rm-rf" })).toThrow(/unknown op "rm-rf"/);
  });
});
