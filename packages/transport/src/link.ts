import type { Message } from "@skein/serialization";

/**
 * What a worker's data server and the peer pool need of a connection, whichever carries it: a
 * WebSocket `Connection`, or a `DataLink` (plain TCP, for fetching data between Skein processes).
 */
export interface MessageLink {
  /** Who is on the other side, for error messages. */
  readonly label: string;
  readonly closed: boolean;
  /** Queue a message; all messages of this event-loop turn leave together. */
  send(message: Message): void;
  /** Deliver incoming message batches here; batches that arrived before are replayed. */
  onMessages(handler: (messages: Message[]) => void): void;
  onClose(handler: (code: number, reason: string) => void): void;
  /** Send what is queued, then close. */
  close(code?: number, reason?: string): void;
  /** Reply with a protocol error instead of dropping a message silently. */
  replyError(code: string, message: string, inReplyTo?: string): void;
  /**
   * When bytes last arrived (`performance.now()`), for links that can tell while a message is still
   * arriving (data links); a WebSocket sees a message only once it is whole.
   */
  readonly lastReceivedAt?: number;
}
