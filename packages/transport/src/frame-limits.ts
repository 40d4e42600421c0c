/**
 * The size limits every carrier of Skein frames enforces before it writes: a batch that happens to
 * be too large is split, and a single message that is too large fails loudly, naming it.
 */
import { MAX_ATTACHMENTS, SKEIN_ERROR_CODES, SkeinError, encodeFrameParts, type FrameParts, type Message } from "@skein/serialization";

/**
 * Frames, and attachments, above this are refused by the receiver; senders check first and fail
 * with a clear error.
 */
export const MAX_FRAME_BYTES = 1024 ** 3;

/** `messages` encoded as one or more frames (with their attachments), each within the limits. */
export function encodeWithinLimits(messages: readonly Message[], label: string): FrameParts[] {
  const parts = encodeFrameParts(messages);
  const { frame, attachments } = parts;
  if (frame.byteLength > MAX_FRAME_BYTES || attachments.length > MAX_ATTACHMENTS) {
    // Split rather than fail when a batch happens to be large; one huge message still fails loudly.
    if (messages.length > 1) {
      const half = Math.ceil(messages.length / 2);
      return [...encodeWithinLimits(messages.slice(0, half), label), ...encodeWithinLimits(messages.slice(half), label)];
    }
    throw new SkeinError(
      "transport",
      SKEIN_ERROR_CODES.PROTOCOL,
      frame.byteLength > MAX_FRAME_BYTES
        ? `a "${messages[0]?.op}" message to ${label} is ${frame.byteLength} bytes, above the ${MAX_FRAME_BYTES}-byte frame limit`
        : `a "${messages[0]?.op}" message to ${label} holds ${attachments.length} large byte strings, above the limit of ${MAX_ATTACHMENTS}`,
    );
  }
  const tooLarge = attachments.find((a) => a.byteLength > MAX_FRAME_BYTES);
  if (tooLarge) {
    throw new SkeinError("transport", SKEIN_ERROR_CODES.PROTOCOL, `a "${messages[0]?.op}" message to ${label} holds ${tooLarge.byteLength} bytes of data, above the ${MAX_FRAME_BYTES}-byte limit`);
  }
  return [parts];
}
