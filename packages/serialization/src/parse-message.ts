import * as v from "valibot";
import { SKEIN_ERROR_CODES, SkeinError } from "./errors.js";
import { FAST_PARSERS } from "./fast-parse.js";
import { MESSAGE_SCHEMAS, type Message, type Op } from "./messages.js";

/** True when `op` names a known message. */
export const isOp = (op: unknown): op is Op => typeof op === "string" && Object.hasOwn(MESSAGE_SCHEMAS, op);

/**
 * Check an incoming value against its message schema. Throws `SkeinError` with code `PROTOCOL`
 * naming the op and the first field that is wrong; never returns a half-checked message.
 */
export function parseMessage(value: unknown): Message {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw protocolError(`a message must be an object with an "op", got ${value === null ? "null" : Array.isArray(value) ? "an array" : typeof value}`);
  }
  const op = (value as { op?: unknown }).op;
  if (!isOp(op)) {
    // Only a string is quoted back: JSON.stringify throws on a BigInt, which CBOR can carry.
    throw protocolError(typeof op === "string" ? `unknown op ${JSON.stringify(op).slice(0, 80)}` : `"op" must be a string, got ${op === null ? "null" : typeof op}`);
  }
  // The messages sent per task are checked by hand first (./fast-parse.ts); the schema decides the rest.
  const fast = FAST_PARSERS[op]?.(value as Record<string, unknown>);
  if (fast) return fast;
  const result = v.safeParse(MESSAGE_SCHEMAS[op], value);
  if (!result.success) {
    const issue = result.issues[0];
    const path = issue.path?.map((p) => String(p.key)).join(".") || "(message)";
    throw protocolError(`"${op}" message has a bad field ${path}: ${issue.message}`);
  }
  return result.output as Message;
}

function protocolError(message: string): SkeinError {
  return new SkeinError("protocol", SKEIN_ERROR_CODES.PROTOCOL, message);
}
