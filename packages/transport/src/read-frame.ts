/**
 * Reading one received frame, the same on every carrier (WebSocket `Connection`, `DataLink`): a
 * frame that cannot be decoded, or a message in it that fails its check, is answered with a protocol
 * error and costs only itself; the messages that pass are returned.
 */
import { SKEIN_ERROR_CODES, decodeFrame, parseMessage, type Message } from "@skein/serialization";

type ReplyError = (code: string, message: string, inReplyTo?: string) => void;

export function readFrame(frame: Uint8Array, attachments: readonly Uint8Array[] | undefined, replyError: ReplyError): Message[] {
  let raw: unknown[];
  try {
    raw = decodeFrame(frame, attachments);
  } catch (error) {
    replyError(SKEIN_ERROR_CODES.PROTOCOL, (error as Error).message);
    return [];
  }
  const messages: Message[] = [];
  for (const item of raw) {
    try {
      messages.push(parseMessage(item));
    } catch (error) {
      const op = typeof item === "object" && item !== null ? (item as { op?: unknown }).op : undefined;
      replyError(SKEIN_ERROR_CODES.PROTOCOL, (error as Error).message, typeof op === "string" ? op : undefined);
    }
  }
  return messages;
}
