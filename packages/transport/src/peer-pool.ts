/**
 * Connections to workers' data servers, one per worker, reused. Workers fetch the inputs of
 * their tasks this way, directly from the worker that holds them (never through the scheduler), and
 * clients fetch the results they asked for. A plain `ws://` server is reached over a data link (TCP
 * that reads large results straight into place); a `wss://` one over its TLS WebSocket.
 */
import { SKEIN_ERROR_CODES, SkeinError, type Message } from "@skein/serialization";
import { connectDataLink } from "./data-handshake.js";
import { CLOSE_CODES } from "./connection.js";
import { connect, type TlsOptions } from "./handshake.js";
import type { MessageLink } from "./link.js";

export interface FetchResult {
  data: Record<string, Uint8Array>;
  missing: string[];
}

/**
 * A peer that sends nothing for this long while we wait for its answer is taken for gone: a hung
 * process, or a host that vanished without closing the connection (a dead process closes it, and
 * that fails the request at once). Its main thread answers data requests while its tasks run, and
 * a large answer keeps bytes flowing, so a live peer is never this quiet.
 */
const SILENT_PEER_MS = 30_000;

interface PendingRequest {
  address: string;
  /** When the request was sent (`performance.now()`): silence counts from here, or from the last bytes. */
  sentAt: number;
  resolve: (result: FetchResult | string[]) => void;
  reject: (error: Error) => void;
}

export class PeerPool {
  #connections = new Map<string, Promise<MessageLink>>();
  /** The open links, for the silence check. */
  #links = new Map<string, MessageLink>();
  #watchdog: NodeJS.Timeout | undefined;
  readonly #silentPeerMs: number;
  #pending = new Map<number, PendingRequest>();
  #nextId = 1;
  #closed = false;
  readonly #secret: string;
  readonly #name: string;
  readonly #connectTimeoutMs: number;
  readonly #role: "peer" | "client";

  readonly #tls: TlsOptions | undefined;
  readonly #sharedMemory: boolean;

  /**
   * `sharedMemory`: fetched data arrives in `SharedArrayBuffer`s (a worker, which hands it to its
   * executor threads without copying); otherwise in plain `ArrayBuffer`s.
   */
  constructor(
    secret: string,
    name: string,
    role: "peer" | "client" = "peer",
    connectTimeoutMs = 10_000,
    tls?: TlsOptions,
    { sharedMemory = false, silentPeerMs = SILENT_PEER_MS }: { sharedMemory?: boolean; silentPeerMs?: number } = {},
  ) {
    this.#silentPeerMs = silentPeerMs;
    this.#tls = tls;
    this.#sharedMemory = sharedMemory;
    this.#role = role;
    this.#secret = secret;
    this.#name = name;
    this.#connectTimeoutMs = connectTimeoutMs;
  }

  /** Ask `address` for `keys`. Rejects when the peer cannot be reached or drops the connection. */
  async fetch(address: string, keys: readonly string[]): Promise<FetchResult> {
    const connection = await this.#connection(address);
    // Closed while the connection was being opened: it is closing too.
    if (this.#closed) throw new SkeinError("worker", SKEIN_ERROR_CODES.CLOSED, "closing");
    const requestId = this.#nextId++;
    return new Promise<FetchResult>((resolve, reject) => {
      this.#await(requestId, { address, sentAt: performance.now(), resolve: resolve as (r: FetchResult | string[]) => void, reject });
      connection.send({ op: "get-data", requestId, keys: [...keys] });
    });
  }

  /** Ask the worker at `address` for its recent log lines. */
  async logs(address: string): Promise<string[]> {
    const connection = await this.#connection(address);
    const requestId = this.#nextId++;
    return new Promise<string[]>((resolve, reject) => {
      this.#await(requestId, { address, sentAt: performance.now(), resolve: resolve as (r: FetchResult | string[]) => void, reject });
      connection.send({ op: "get-logs", requestId });
    });
  }

  close(): void {
    this.#closed = true;
    for (const connection of this.#connections.values()) void connection.then((c) => c.close(), () => undefined);
    this.#connections.clear();
    this.#failWhere(() => true, new SkeinError("worker", SKEIN_ERROR_CODES.CLOSED, "closing"));
  }

  // --- internal ---

  #connection(address: string): Promise<MessageLink> {
    if (this.#closed) return Promise.reject(new SkeinError("worker", SKEIN_ERROR_CODES.CLOSED, "closing"));
    let connection = this.#connections.get(address);
    if (!connection) {
      const options = { role: this.#role, secret: this.#secret, name: this.#name, timeoutMs: this.#connectTimeoutMs, label: `peer ${address}`, sharedMemory: this.#sharedMemory };
      const opened: Promise<MessageLink> = address.startsWith("ws://")
        ? connectDataLink(address, options)
        : connect(address, { ...options, tls: this.#tls }).then(({ connection: c }) => c);
      connection = opened.then(
        (c) => {
          this.#links.set(address, c);
          c.onMessages((messages) => {
            for (const message of messages) this.#handle(address, message);
          });
          c.onClose((code, reason) => {
            this.#connections.delete(address);
            if (this.#links.get(address) === c) this.#links.delete(address);
            // Requests in flight on this connection fail; the caller tries another holder.
            this.#failWhere((p) => p.address === address, new Error(`connection to ${address} closed (${code} ${reason})`));
          });
          return c;
        },
      );
      connection.catch(() => this.#connections.delete(address));
      this.#connections.set(address, connection);
    }
    return connection;
  }

  #handle(address: string, message: Message): void {
    if (message.op === "data") {
      this.#settle(message.requestId)?.resolve({ data: message.data, missing: message.missing });
    } else if (message.op === "logs") {
      this.#settle(message.requestId)?.resolve(message.lines);
    } else if (message.op === "error") {
      // The peer could not handle a request: fail what we asked of it rather than wait forever.
      this.#failWhere((p) => p.address === address, new Error(`peer ${address} answered with an error: ${message.message}`));
    }
  }

  #failWhere(match: (pending: PendingRequest) => boolean, error: Error): void {
    for (const [id, pending] of this.#pending) {
      if (!match(pending)) continue;
      this.#pending.delete(id);
      pending.reject(error);
    }
    this.#stopWatchdogWhenIdle();
  }

  #await(requestId: number, pending: PendingRequest): void {
    this.#pending.set(requestId, pending);
    if (this.#watchdog) return;
    this.#watchdog = setInterval(() => this.#closeSilentLinks(), Math.min(5000, this.#silentPeerMs / 2));
    this.#watchdog.unref();
  }

  #settle(requestId: number): PendingRequest | undefined {
    const pending = this.#pending.get(requestId);
    if (!pending) return undefined;
    this.#pending.delete(requestId);
    this.#stopWatchdogWhenIdle();
    return pending;
  }

  #stopWatchdogWhenIdle(): void {
    if (this.#pending.size > 0 || !this.#watchdog) return;
    clearInterval(this.#watchdog);
    this.#watchdog = undefined;
  }

  /** Close links whose peer has said nothing for too long while we wait: their requests fail, and the caller tries elsewhere. */
  #closeSilentLinks(): void {
    const now = performance.now();
    for (const pending of this.#pending.values()) {
      const link = this.#links.get(pending.address);
      if (link?.lastReceivedAt === undefined || link.closed) continue;
      const silentMs = now - Math.max(link.lastReceivedAt, pending.sentAt);
      if (silentMs < this.#silentPeerMs) continue;
      this.#links.delete(pending.address);
      link.close(CLOSE_CODES.ABNORMAL, `nothing received for ${Math.round(silentMs / 1000)} s while waiting for an answer: the peer hangs or its host is gone`);
    }
  }
}
