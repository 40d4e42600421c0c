/**
 * Connections to workers' data servers, one per worker, reused. Workers fetch the inputs of
 * their tasks this way, directly from the worker that holds them (never through the scheduler), and
 * clients fetch the results they asked for. A plain `ws://` server is reached over a data link (TCP
 * that reads large results straight into place); a `wss://` one over its TLS WebSocket.
 */
import { SKEIN_ERROR_CODES, SkeinError, type Message } from "@skein/serialization";
import { connectDataLink } from "./data-handshake.js";
import { connect, type TlsOptions } from "./handshake.js";
import type { MessageLink } from "./link.js";

export interface FetchResult {
  data: Record<string, Uint8Array>;
  missing: string[];
}

interface PendingRequest {
  address: string;
  resolve: (result: FetchResult | string[]) => void;
  reject: (error: Error) => void;
}

export class PeerPool {
  #connections = new Map<string, Promise<MessageLink>>();
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
  constructor(secret: string, name: string, role: "peer" | "client" = "peer", connectTimeoutMs = 10_000, tls?: TlsOptions, { sharedMemory = false }: { sharedMemory?: boolean } = {}) {
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
      this.#pending.set(requestId, { address, resolve: resolve as (r: FetchResult | string[]) => void, reject });
      connection.send({ op: "get-data", requestId, keys: [...keys] });
    });
  }

  /** Ask the worker at `address` for its recent log lines. */
  async logs(address: string): Promise<string[]> {
    const connection = await this.#connection(address);
    const requestId = this.#nextId++;
    return new Promise<string[]>((resolve, reject) => {
      this.#pending.set(requestId, { address, resolve: resolve as (r: FetchResult | string[]) => void, reject });
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
          c.onMessages((messages) => {
            for (const message of messages) this.#handle(address, message);
          });
          c.onClose((code, reason) => {
            this.#connections.delete(address);
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
      const pending = this.#pending.get(message.requestId);
      if (!pending) return;
      this.#pending.delete(message.requestId);
      pending.resolve({ data: message.data, missing: message.missing });
    } else if (message.op === "logs") {
      const pending = this.#pending.get(message.requestId);
      if (!pending) return;
      this.#pending.delete(message.requestId);
      pending.resolve(message.lines);
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
  }
}
