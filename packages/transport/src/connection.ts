/**
 * A WebSocket carrying Skein frames. Messages sent during one event-loop turn go out as one frame
 * (per-message costs dominate small tasks); incoming frames are checked message by message, and a
 * bad message gets an error reply instead of taking the connection or the process down.
 */
import { SKEIN_ERROR_CODES, decodeAttachmentManifest, encodeAttachmentManifest, type Message } from "@skein/serialization";
import type { WebSocket } from "./ws.js";
import { MAX_FRAME_BYTES, encodeWithinLimits } from "./frame-limits.js";
import { readFrame } from "./read-frame.js";
import type { MessageLink } from "./link.js";

export { MAX_FRAME_BYTES };

/**
 * Attachments go out in WebSocket messages of at most this many bytes: the receiver copies each
 * into place as it arrives, while the rest is still on the wire.
 */
export const ATTACHMENT_CHUNK_BYTES = 1024 * 1024;

/** Close codes in the application range (4000–4999) so the peer can tell why. */
export const CLOSE_CODES = {
  NORMAL: 1000,
  AUTH_FAILED: 4001,
  PROTOCOL: 4002,
  HEARTBEAT: 4003,
  SHUTDOWN: 4004,
  /** The socket failed or ended without a close handshake (WebSocket's own code for this). */
  ABNORMAL: 1006,
} as const;

export interface ConnectionOptions {
  /** Who is on the other side, for error messages: "scheduler ws://…", "worker w-3". */
  label: string;
  /**
   * Ping the peer this often and drop the connection when a pong does not come back before the next
   * ping. The peer's main thread answers pongs even while its tasks burn CPU in worker threads.
   * 0 disables. @default 0
   */
  heartbeatMs?: number;
  /**
   * Drop the peer only after its pongs have been missing this long (whole heartbeat intervals).
   * A client's event loop is the user's: building a million-task graph may keep it from answering
   * for many seconds, and dropping it would lose every future it holds. @default heartbeatMs
   */
  deadAfterMs?: number;
  /**
   * Receive attachments (large byte strings: results, arguments) into `SharedArrayBuffer`s, which
   * a worker hands to its executor threads without copying. Otherwise plain `ArrayBuffer`s.
   * @default false
   */
  sharedMemory?: boolean;
}

/** Attachments of the frame being received: the manifest has come, the frame itself not yet. */
interface IncomingAttachments {
  readonly sizes: readonly number[];
  readonly done: Uint8Array[];
  /** The attachment being filled, and how many of its bytes have arrived. */
  current: Uint8Array | undefined;
  filled: number;
}

type MessagesHandler = (messages: Message[]) => void;
type CloseHandler = (code: number, reason: string) => void;

export class Connection implements MessageLink {
  readonly label: string;
  #ws: WebSocket;
  #queue: Message[] = [];
  #flushScheduled = false;
  #onMessages: MessagesHandler | undefined;
  #pending: Message[][] = [];
  #closeHandlers: CloseHandler[] = [];
  #closed = false;
  #heartbeat: NodeJS.Timeout | undefined;
  #alive = true;
  /** Set when the heartbeat gave up on the peer: the close reason says so. */
  #silentForMs: number | undefined;
  readonly #sharedMemory: boolean;
  #incoming: IncomingAttachments | undefined;
  /** The attachment framing was broken: the connection is closing, and nothing more is read. */
  #broken = false;

  constructor(ws: WebSocket, options: ConnectionOptions, initial: readonly Message[] = []) {
    this.#ws = ws;
    this.label = options.label;
    this.#sharedMemory = options.sharedMemory ?? false;
    if (initial.length > 0) this.#pending.push([...initial]);
    ws.on("message", (data, isBinary) => this.#receive(data as Buffer, isBinary));
    ws.on("close", (code, reason) => this.#handleClose(code, this.#silentForMs === undefined ? reason.toString() : `no answer to heartbeats for ${Math.round(this.#silentForMs / 1000)} s: the peer hangs or the network is gone`));
    ws.on("error", () => {
      // 'close' follows every 'error'; the close handler reports it.
    });
    if (options.heartbeatMs && options.heartbeatMs > 0) this.#startHeartbeat(options.heartbeatMs, Math.max(options.deadAfterMs ?? 0, options.heartbeatMs));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes queued in the socket but not yet written (for back-pressure decisions). */
  get bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  /** Queue a message; all messages of this event-loop turn leave as one frame. */
  send(message: Message): void {
    if (this.#closed) return;
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
    this.#write(messages);
  }

  /** Deliver incoming message batches here. Batches that arrived before a handler was set are replayed. */
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

  /** Send what is queued, then close with a code the peer can read. */
  close(code: number = CLOSE_CODES.NORMAL, reason = ""): void {
    if (this.#closed) return;
    this.flush();
    this.#ws.close(code, truncateReason(reason));
    // A peer that never answers the close handshake must not keep us (or the process) alive.
    const force = setTimeout(() => this.#ws.terminate(), 2000);
    force.unref();
  }

  /** Drop the socket without the close handshake. */
  terminate(): void {
    this.#ws.terminate();
  }

  /** Reply with a protocol error instead of dropping a message silently. */
  replyError(code: string, message: string, inReplyTo?: string): void {
    this.send(inReplyTo === undefined ? { op: "error", code, message } : { op: "error", code, message, inReplyTo });
  }

  // --- internal ---

  #receive(data: Buffer, isBinary: boolean): void {
    if (this.#broken) return;
    const incoming = this.#incoming;
    if (!isBinary) {
      if (incoming) return this.#violation("a text frame arrived in the middle of attachments");
      this.replyError(SKEIN_ERROR_CODES.PROTOCOL, "text frames are not part of the Skein protocol; send binary CBOR frames");
      return;
    }
    if (incoming && incoming.done.length < incoming.sizes.length) return this.#receiveChunk(incoming, data);
    let sizes: number[] | undefined;
    try {
      sizes = decodeAttachmentManifest(data, MAX_FRAME_BYTES);
    } catch (error) {
      // A bad manifest leaves the stream unreadable (where do its attachments end?); a bad frame costs only itself.
      return this.#violation((error as Error).message);
    }
    if (sizes) {
      if (incoming) return this.#violation("a second attachment manifest arrived before the frame of the first");
      this.#incoming = { sizes, done: [], current: undefined, filled: 0 };
      return;
    }
    this.#incoming = undefined;
    const messages = readFrame(data, incoming?.done, (code, message, inReplyTo) => this.replyError(code, message, inReplyTo));
    if (messages.length === 0) return;
    if (this.#onMessages) this.#onMessages(messages);
    else this.#pending.push(messages);
  }

  #handleClose(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#incoming = undefined;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    for (const handler of this.#closeHandlers) handler(code, reason);
    this.#closeHandlers = [];
  }

  #startHeartbeat(intervalMs: number, deadAfterMs: number): void {
    let missed = 0;
    this.#ws.on("pong", () => {
      this.#alive = true;
    });
    let lastTick = performance.now();
    this.#heartbeat = setInterval(() => {
      const now = performance.now();
      const late = now - lastTick > intervalMs * 1.5;
      lastTick = now;
      if (this.#alive) missed = 0;
      // If this timer itself ran late, our own event loop was blocked (an in-process scheduler
      // shares it with the user's code): the pong may be sitting unread. Ask again, judge later.
      else if (!late) missed += 1;
      if (missed * intervalMs >= deadAfterMs) {
        // No pong for deadAfterMs: the peer is hung (SIGSTOP, swapped out) or the network is gone.
        this.#silentForMs = missed * intervalMs;
        this.#ws.terminate();
        return;
      }
      this.#alive = false;
      this.#ws.ping();
    }, intervalMs);
    this.#heartbeat.unref();
  }

  /**
   * Send messages as one frame. Large byte strings leave the frame: a manifest of their sizes goes
   * first, then their bytes, straight from the arrays that hold them, then the frame referring to them.
   */
  #write(messages: Message[]): void {
    for (const { frame, attachments } of encodeWithinLimits(messages, this.label)) {
      if (attachments.length > 0) {
        this.#ws.send(encodeAttachmentManifest(attachments.map((a) => a.byteLength)), { binary: true });
        for (const attachment of attachments) {
          for (let offset = 0; offset < attachment.byteLength; offset += ATTACHMENT_CHUNK_BYTES) {
            this.#ws.send(attachment.subarray(offset, offset + ATTACHMENT_CHUNK_BYTES), { binary: true });
          }
        }
      }
      this.#ws.send(frame, { binary: true });
    }
  }

  /** Copy one chunk of an attachment into place; the chunk (a view into socket reads) is not kept. */
  #receiveChunk(incoming: IncomingAttachments, chunk: Buffer): void {
    const size = incoming.sizes[incoming.done.length] as number;
    if (incoming.current === undefined) {
      incoming.current = new Uint8Array(this.#sharedMemory ? new SharedArrayBuffer(size) : new ArrayBuffer(size));
      incoming.filled = 0;
    }
    if (chunk.byteLength === 0 || chunk.byteLength > size - incoming.filled) {
      return this.#violation(`an attachment chunk of ${chunk.byteLength} bytes does not fit the ${size - incoming.filled} bytes left of its attachment`);
    }
    incoming.current.set(chunk, incoming.filled);
    incoming.filled += chunk.byteLength;
    if (incoming.filled === size) {
      incoming.done.push(incoming.current);
      incoming.current = undefined;
    }
  }

  /** The attachment framing was broken: nothing after this can be read reliably. */
  #violation(reason: string): void {
    this.#incoming = undefined;
    this.#broken = true;
    this.replyError(SKEIN_ERROR_CODES.PROTOCOL, reason);
    this.close(CLOSE_CODES.PROTOCOL, reason);
  }
}

/** WebSocket close reasons are limited to 123 bytes of UTF-8. */
export function truncateReason(reason: string): string {
  const buffer = Buffer.from(reason);
  if (buffer.byteLength <= 123) return reason;
  return `${buffer.subarray(0, 120).toString("utf8").replace(/\uFFFD+$/, "")}...`;
}
