/**
 * A data link: Skein frames over a plain TCP socket, for moving results between Skein processes
 * (a worker fetching its inputs from a peer, a client gathering results). It exists for one
 * reason, speed: the side that dials reads large byte strings from the socket straight into the
 * buffers that keep them (see data-framing.ts), where a WebSocket would reassemble each message
 * from 64 KiB reads and hand it over to be copied into place. Messages, batching and error replies
 * are the same as on a `Connection`. Links are opened by data-handshake.ts, authenticated.
 */
import type { Socket } from "node:net";
import { SKEIN_ERROR_CODES, type Message } from "@skein/serialization";
import { CLOSE_CODES } from "./connection.js";
import { FrameReader, encodeFrameHead } from "./data-framing.js";
import { MAX_FRAME_BYTES, encodeWithinLimits } from "./frame-limits.js";
import { readFrame } from "./read-frame.js";
import type { MessageLink } from "./link.js";

export interface DataLinkOptions {
  /** Who is on the other side, for error messages. */
  label: string;
  /** Receive attachments into `SharedArrayBuffer`s (a worker hands them to its threads). @default false */
  sharedMemory?: boolean;
}

/** A peer that does not finish closing within this time is cut off. */
const CLOSE_GRACE_MS = 2000;

type MessagesHandler = (messages: Message[]) => void;
type CloseHandler = (code: number, reason: string) => void;

export class DataLink implements MessageLink {
  readonly label: string;
  readonly #socket: Socket;
  readonly #reader: FrameReader;
  #queue: Message[] = [];
  #flushScheduled = false;
  #onMessages: MessagesHandler | undefined;
  #pending: Message[][] = [];
  #closeHandlers: CloseHandler[] = [];
  #closed = false;
  /** Why this side is closing the link, once it is. */
  #closing: { code: number; reason: string } | undefined;
  #socketError: Error | undefined;
  #lastReceivedAt = performance.now();

  /**
   * Take over an authenticated socket. Its bytes must be passed on: through `readTarget`/`didRead`
   * for a socket made with `onread`, otherwise through `receive`.
   */
  constructor(socket: Socket, options: DataLinkOptions) {
    this.#socket = socket;
    this.label = options.label;
    this.#reader = new FrameReader({ maxBytes: MAX_FRAME_BYTES, sharedMemory: options.sharedMemory ?? false, onFrame: (frame, attachments) => this.#deliver(frame, attachments) });
    socket.setNoDelay(true);
    socket.on("error", (error) => (this.#socketError ??= error));
    // Servers' sockets allow half-open connections: answer the other side's end with ours.
    socket.on("end", () => socket.end());
    socket.on("close", () => this.#handleClose());
  }

  get closed(): boolean {
    return this.#closed;
  }

  get lastReceivedAt(): number {
    return this.#lastReceivedAt;
  }

  /** Where the socket should write its next bytes (sockets made with `onread`); never empty. */
  readTarget(): Uint8Array {
    return this.#reader.target();
  }

  /** The socket wrote `n` bytes at the start of the last `readTarget()`. */
  didRead(n: number): void {
    if (this.#closing) return;
    this.#lastReceivedAt = performance.now();
    try {
      this.#reader.wrote(n);
    } catch (error) {
      this.#violation((error as Error).message);
    }
  }

  /** Bytes that arrived as a chunk (a `data` event, bytes read with the handshake). */
  receive(bytes: Uint8Array): void {
    if (this.#closing || bytes.byteLength === 0) return;
    this.#lastReceivedAt = performance.now();
    try {
      this.#reader.receive(bytes);
    } catch (error) {
      this.#violation((error as Error).message);
    }
  }

  send(message: Message): void {
    if (this.#closed || this.#closing) return;
    this.#queue.push(message);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Write queued messages now. */
  flush(): void {
    this.#flushScheduled = false;
    if (this.#queue.length === 0 || this.#closed) return;
    const messages = this.#queue;
    this.#queue = [];
    for (const { frame, attachments } of encodeWithinLimits(messages, this.label)) {
      // One writev per frame, and every attachment straight from the array that holds it.
      this.#socket.cork();
      this.#socket.write(encodeFrameHead(frame.byteLength, attachments.map((a) => a.byteLength)));
      this.#socket.write(frame);
      for (const attachment of attachments) this.#socket.write(attachment);
      this.#socket.uncork();
    }
  }

  onMessages(handler: MessagesHandler): void {
    this.#onMessages = handler;
    const pending = this.#pending;
    this.#pending = [];
    for (const batch of pending) handler(batch);
  }

  onClose(handler: CloseHandler): void {
    if (this.#closed) {
      handler(CLOSE_CODES.NORMAL, "already closed");
      return;
    }
    this.#closeHandlers.push(handler);
  }

  /** Send what is queued, then close. The code and reason are for this side's close handlers. */
  close(code: number = CLOSE_CODES.NORMAL, reason = ""): void {
    if (this.#closed || this.#closing) return;
    this.flush();
    this.#closing = { code, reason };
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  /** Drop the socket now. */
  terminate(): void {
    this.#closing ??= { code: CLOSE_CODES.ABNORMAL, reason: "terminated" };
    this.#socket.destroy();
  }

  replyError(code: string, message: string, inReplyTo?: string): void {
    this.send(inReplyTo === undefined ? { op: "error", code, message } : { op: "error", code, message, inReplyTo });
  }

  // --- internal ---

  /** A whole frame: a bad one gets an error reply and costs only itself, as on a `Connection`. */
  #deliver(frame: Uint8Array, attachments: Uint8Array[]): void {
    const messages = readFrame(frame, attachments, (code, message, inReplyTo) => this.replyError(code, message, inReplyTo));
    if (messages.length === 0) return;
    if (this.#onMessages) this.#onMessages(messages);
    else this.#pending.push(messages);
  }

  /** The framing was broken: nothing after this can be read reliably. Say why, then close. */
  #violation(reason: string): void {
    this.replyError(SKEIN_ERROR_CODES.PROTOCOL, reason);
    this.close(CLOSE_CODES.PROTOCOL, reason);
  }

  #handleClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    const { code, reason } = this.#closing ?? this.#unexpectedEnd();
    for (const handler of this.#closeHandlers) handler(code, reason);
    this.#closeHandlers = [];
  }

  /** How the other side (or the network) ended the link. */
  #unexpectedEnd(): { code: number; reason: string } {
    if (this.#socketError) return { code: CLOSE_CODES.ABNORMAL, reason: this.#socketError.message };
    if (this.#reader.midFrame) return { code: CLOSE_CODES.ABNORMAL, reason: "the connection ended in the middle of a frame" };
    return { code: CLOSE_CODES.NORMAL, reason: "closed by the other side" };
  }
}
