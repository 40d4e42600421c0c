/**
 * A client in the scheduler's own process (the default: a local or batch cluster hosts its
 * scheduler next to the user's code) talks to it through two in-memory ends instead of a
 * WebSocket. The same typed messages flow the same way, batched per event-loop turn and delivered
 * in a later turn, in order, with the close after the last message, but they are never encoded,
 * framed, written to a socket, read back, decoded and checked again in the same process: with
 * small tasks that was most of what the process did per task besides the scheduling itself.
 */
import type { Message } from "@skein/serialization";
import type { MessageLink } from "@skein/transport";

/**
 * What the scheduler and the client need of a connection: a transport `MessageLink` that can also
 * be flushed. A WebSocket `Connection` is one, and so is each end of a `localLink`.
 */
export interface MessageChannel extends MessageLink {
  /** Hand what is queued over now, as one batch (still delivered in a later turn). */
  flush(): void;
}

/** The close code of a normal close (as WebSocket's). */
const NORMAL_CLOSE = 1000;

/** Two connected ends: what one sends, the other receives. */
export function localLink(labels: readonly [string, string] = ["in-process peer", "in-process peer"]): [MessageChannel, MessageChannel] {
  const a = new LocalEnd(labels[0]);
  const b = new LocalEnd(labels[1]);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

class LocalEnd implements MessageChannel {
  /** Who is on the other side, for error messages. */
  readonly label: string;
  peer!: LocalEnd;
  #queue: Message[] = [];
  #flushScheduled = false;
  /** Batches handed over by the peer, not yet delivered. */
  #inbox: Message[][] = [];
  #deliveryScheduled = false;
  #handler: ((messages: Message[]) => void) | undefined;
  /** Delivered before a handler was set. */
  #unread: Message[][] = [];
  #closeHandlers: ((code: number, reason: string) => void)[] = [];
  /** Set when either end closed; handlers run once the messages before it were delivered. */
  #closing: { code: number; reason: string } | undefined;
  #closed = false;

  constructor(label: string) {
    this.label = label;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  send(message: Message): void {
    if (this.#closing) return;
    this.#queue.push(message);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#scheduledFlush());
  }

  flush(): void {
    if (this.#queue.length === 0) return;
    const batch = this.#queue;
    this.#queue = [];
    this.peer.#receive(batch);
  }

  onMessages(handler: (messages: Message[]) => void): void {
    this.#handler = handler;
    const unread = this.#unread;
    this.#unread = [];
    for (const batch of unread) handler(batch);
  }

  onClose(handler: (code: number, reason: string) => void): void {
    if (this.#closed) handler(NORMAL_CLOSE, "already closed");
    else this.#closeHandlers.push(handler);
  }

  close(code: number = NORMAL_CLOSE, reason = ""): void {
    if (this.#closing) return;
    this.flush();
    this.#closing = { code, reason };
    this.peer.#closing ??= { code, reason };
    // After the messages already handed over, like a close frame after the data frames.
    this.#scheduleDelivery();
    this.peer.#scheduleDelivery();
  }

  replyError(code: string, message: string, inReplyTo?: string): void {
    this.send(inReplyTo === undefined ? { op: "error", code, message } : { op: "error", code, message, inReplyTo });
  }

  // --- internal ---

  /**
   * The turn's own flush runs at the top of a macrotask, with nothing of the user's on the stack:
   * the peer can take the batch right away instead of one turn later.
   */
  #scheduledFlush(): void {
    this.#flushScheduled = false;
    if (this.#queue.length === 0) return;
    const batch = this.#queue;
    this.#queue = [];
    const peer = this.peer;
    if (peer.#inbox.length > 0 || peer.#closed) return peer.#receive(batch);
    peer.#deliver(batch);
  }

  /** An explicit flush may come from anywhere in the user's code: deliver in a later turn. */
  #receive(batch: Message[]): void {
    if (this.#closed) return;
    this.#inbox.push(batch);
    this.#scheduleDelivery();
  }

  #scheduleDelivery(): void {
    if (this.#deliveryScheduled) return;
    this.#deliveryScheduled = true;
    setImmediate(() => this.#drainInbox());
  }

  #drainInbox(): void {
    this.#deliveryScheduled = false;
    while (this.#inbox.length > 0 && !this.#closed) this.#deliver(this.#inbox.shift() as Message[]);
    if (this.#closing && !this.#closed) this.#finishClose(this.#closing);
  }

  #deliver(batch: Message[]): void {
    if (this.#closed) return;
    if (this.#handler) this.#handler(batch);
    else this.#unread.push(batch);
  }

  #finishClose({ code, reason }: { code: number; reason: string }): void {
    this.#closed = true;
    this.#queue = [];
    this.#inbox = [];
    const handlers = this.#closeHandlers;
    this.#closeHandlers = [];
    for (const handler of handlers) handler(code, reason);
  }
}
