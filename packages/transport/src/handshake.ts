/**
 * The first exchange on every connection: the connecting side sends `hello` with its role, the
 * protocol version and the cluster secret; the accepting side checks all three before it reads
 * anything else, then answers `welcome` or closes with a reason the user can read.
 */
import { randomUUID } from "node:crypto";
import { isIP } from "node:net";
import {
  PROTOCOL_VERSION,
  SKEIN_ERROR_CODES,
  SkeinError,
  decodeFrame,
  encodeFrame,
  parseMessage,
  secretsEqual,
  type HelloMessage,
  type Message,
} from "@skein/serialization";
import { STATUS_CODES, createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";
import { WebSocket, WebSocketServer } from "./ws.js";
import { CLOSE_CODES, Connection, MAX_FRAME_BYTES, truncateReason } from "./connection.js";
import { AuthLimiter, type AuthLimiterOptions } from "./auth-limiter.js";
import { acceptDataLink, wantsDataLink, type AcceptedDataLink } from "./data-handshake.js";
import { log } from "./log.js";

export type Role = HelloMessage["role"];

/** How long an accepted socket may take to say hello before it is dropped. */
export const HELLO_TIMEOUT_MS = 10_000;

export interface AcceptedConnection {
  connection: Connection;
  hello: HelloMessage;
  /** The id this side gave the connection (sent back in `welcome`). */
  id: string;
}

/** TLS material (PEM text) for `wss://`. */
export interface TlsOptions {
  /** The certificate (chain) this side presents. */
  readonly cert: string;
  readonly key: string;
  /** Certificate authorities the other side's certificate must chain to. */
  readonly ca: string;
  /** Servers: require a client certificate signed by `ca` (mutual TLS). @default true */
  readonly requireClientCert?: boolean;
  /**
   * Clients: check that the server's certificate names the host dialled. A cluster's temporary
   * certificate is shared by every host of the cluster and names none; trust comes from `ca`. @default true
   */
  readonly checkServerName?: boolean;
}

export interface ListenOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  secret: string;
  /** Roles this server accepts. */
  roles: readonly Role[];
  /** What this server is, for logs and close reasons: "scheduler", "worker w-1". */
  label: string;
  heartbeatMs?: number;
  /** Per role, how long a peer may miss pongs before it is dropped (see `ConnectionOptions.deadAfterMs`). */
  deadAfterMs?: Partial<Record<Role, number>>;
  /** Extra fields for `welcome`. */
  schedulerId?: string;
  /** Rate limit for failed hellos per remote address. @default 20 failures per minute */
  authLimits?: AuthLimiterOptions;
  /** Serve `wss://` with this material instead of plain `ws://`. */
  tls?: TlsOptions | undefined;
  /** Receive large byte strings into `SharedArrayBuffer`s (see `ConnectionOptions.sharedMemory`). */
  sharedMemory?: boolean;
  onConnection: (accepted: AcceptedConnection) => void;
  /**
   * Also accept data links (data-handshake.ts) on the same port, handing each here once its dialler
   * has proved it knows the secret. Only without `tls`: a TLS server refuses them.
   */
  onDataLink?: ((accepted: AcceptedDataLink) => void) | undefined;
}

export interface Listener {
  /** `ws://host:port`, with the port actually bound. */
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Start a WebSocket server (and, with `onDataLink`, a data-link server on the same port) that admits only peers that know the secret. */
export async function listen(options: ListenOptions): Promise<Listener> {
  const tls = options.tls;
  const http = tls
    ? createHttpsServer({ cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: tls.requireClientCert ?? true, rejectUnauthorized: tls.requireClientCert ?? true, minVersion: "TLSv1.2" })
    : createHttpServer();
  // Plain HTTP requests get what ws would answer them.
  http.on("request", (_request, response) => {
    const body = STATUS_CODES[426] as string;
    response.writeHead(426, { "Content-Length": body.length, "Content-Type": "text/plain" });
    response.end(body);
  });
  const server = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    perMessageDeflate: false,
    // Unauthenticated sockets get nothing but the hello exchange; no upgrade-time callbacks needed.
    clientTracking: true,
  });
  const limiter = new AuthLimiter(options.authLimits);
  const dataSockets = new Set<Socket>();
  const onDataLink = tls ? undefined : options.onDataLink;
  http.on("upgrade", (request, socket: Socket, head: Buffer) => {
    if (onDataLink && wantsDataLink(request)) {
      dataSockets.add(socket);
      socket.once("close", () => dataSockets.delete(socket));
      acceptDataLink(request, socket, head, { secret: options.secret, roles: options.roles, label: options.label, limiter, onDataLink });
      return;
    }
    // Anything but a WebSocket upgrade (a data link asked of a TLS server, say) gets ws's 400.
    server.handleUpgrade(request, socket, head, (ws) => server.emit("connection", ws, request));
  });
  http.listen(options.port, options.host);
  await new Promise<void>((resolve, reject) => {
    http.once("listening", resolve);
    http.once("error", (error: Error) =>
      reject(
        new SkeinError(options.label, SKEIN_ERROR_CODES.CONNECT_FAILED, `cannot listen on ${options.host}:${options.port}: ${error.message}`, {
          cause: error,
        }),
      ),
    );
  });
  http.on("error", (error) => log.warn(`${options.label} server error: ${error.message}`));
  server.on("connection", (ws, request) => acceptHello(ws, options, request.socket.remoteAddress ?? "?", limiter));
  const bound = http.address();
  const port = typeof bound === "object" && bound ? bound.port : options.port;
  return {
    address: formatAddress(options.host, port, tls !== undefined),
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        for (const socket of dataSockets) socket.destroy();
        server.close();
        http.close(() => resolve());
      }),
  };
}

export interface ConnectOptions {
  role: Role;
  secret: string;
  name: string;
  /** Give up after this long (including retries while the peer is not yet listening). */
  timeoutMs: number;
  label: string;
  /** Ping the peer this often (see `ConnectionOptions.heartbeatMs`). */
  heartbeatMs?: number;
  /** Drop the peer when its pongs have been missing this long. @default heartbeatMs */
  deadAfterMs?: number;
  /** Messages to send in the same frame as hello (a worker's registration). */
  firstMessages?: readonly Message[];
  /** Keep retrying refused connections until the timeout (a scheduler that is still starting). */
  retry?: boolean;
  /** For `wss://` addresses: what to present and what to trust. */
  tls?: TlsOptions | undefined;
  /** Called after each failed attempt that will be retried (first one: attempt 1). */
  onRetry?: (error: Error, attempt: number) => void;
  /** Receive large byte strings into `SharedArrayBuffer`s (see `ConnectionOptions.sharedMemory`). */
  sharedMemory?: boolean;
}

export interface Connected {
  connection: Connection;
  welcome: Extract<Message, { op: "welcome" }>;
}

/** Connect and say hello; resolves once the peer has welcomed us. */
export async function connect(address: string, options: ConnectOptions): Promise<Connected> {
  const url = checkAddress(address);
  const deadline = Date.now() + options.timeoutMs;
  let lastError = "no attempt made";
  let attempts = 0;
  let delay = 50;
  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    try {
      return await attempt(url, options, remaining);
    } catch (error) {
      // Retrying cannot fix a wrong secret, a missing certificate or a certificate the other side refuses.
      if (error instanceof SkeinError && (error.code === SKEIN_ERROR_CODES.AUTH_FAILED || error.code === SKEIN_ERROR_CODES.BAD_OPTION)) throw error;
      if (isTlsFailure(error)) {
        throw new SkeinError(
          options.label,
          SKEIN_ERROR_CODES.AUTH_FAILED,
          `the TLS handshake with ${address} failed (${(error as Error).message}): the certificate given here is not the one that cluster uses, ` +
            "or the other side's is not one this process trusts. Use the cluster's TLS file (SKEIN_TLS_FILE) or its own cert, key and CA.",
          { cause: error },
        );
      }
      lastError = (error as Error).message;
      // A plain WebSocket to a TLS server just sees the socket close.
      if (url.protocol === "ws:" && lastError === "socket hang up") lastError += " (if the scheduler uses TLS, its address starts with wss://)";
      if (!options.retry) break;
      options.onRetry?.(error as Error, ++attempts);
    }
    await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(0, deadline - Date.now()))));
    delay = Math.min(delay * 2, 1000);
  }
  throw new SkeinError(
    options.label,
    SKEIN_ERROR_CODES.CONNECT_FAILED,
    `could not connect to ${address} within ${formatSeconds(options.timeoutMs)}: ${lastError}. ` +
      "Check that the scheduler is running and that this host can reach that address.",
  );
}

/** Certificate checks that failed, on either side (OpenSSL's codes as Node reports them). */
function isTlsFailure(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && /CERT|SELF_SIGNED|^ERR_SSL_|^ERR_TLS_|UNABLE_TO_(GET|VERIFY)/.test(code);
}

/** `ws://host:port` (or `wss://`), with IPv6 hosts bracketed. */
export function formatAddress(host: string, port: number, secure = false): string {
  const scheme = secure ? "wss" : "ws";
  return isIP(host) === 6 ? `${scheme}://[${host}]:${port}` : `${scheme}://${host}:${port}`;
}

// --- internal ---

function acceptHello(ws: WebSocket, options: ListenOptions, remote: string, limiter: AuthLimiter): void {
  const timer = setTimeout(() => refuse(ws, CLOSE_CODES.PROTOCOL, `no hello within ${HELLO_TIMEOUT_MS} ms`, remote, options.label), HELLO_TIMEOUT_MS);
  timer.unref();
  ws.once("close", () => clearTimeout(timer));
  ws.once("message", (data, isBinary) => {
    clearTimeout(timer);
    let messages: unknown[];
    let hello: HelloMessage;
    try {
      if (!isBinary) throw new Error("expected a binary CBOR frame");
      messages = decodeFrame(data as Buffer);
      const first = parseMessage(messages[0]);
      if (first.op !== "hello") throw new Error(`the first message must be "hello", got "${first.op}"`);
      hello = first;
    } catch (error) {
      refuse(ws, CLOSE_CODES.PROTOCOL, `bad hello: ${(error as Error).message}`, remote, options.label);
      return;
    }
    // The secret is checked before anything else in the frame is even parsed.
    if (!secretsEqual(hello.secret, options.secret)) {
      // Logged without the presented secret: it may be a real secret typed into the wrong cluster.
      const verdict = limiter.fail(remote);
      if (verdict.log === "summary") log.warn(`${options.label}: ${verdict.suppressed} more failed hellos from ${remote} were not logged`);
      refuse(ws, CLOSE_CODES.AUTH_FAILED, "wrong cluster secret: use the secret of the cluster you are connecting to (SKEIN_SECRET or SKEIN_SECRET_FILE)", remote, options.label, verdict.log !== "suppressed");
      return;
    }
    if (hello.protocol !== PROTOCOL_VERSION) {
      refuse(ws, CLOSE_CODES.PROTOCOL, `protocol version ${hello.protocol} is not supported (this side speaks ${PROTOCOL_VERSION}); use the same Skein version everywhere`, remote, options.label);
      return;
    }
    if (!options.roles.includes(hello.role)) {
      refuse(ws, CLOSE_CODES.PROTOCOL, `${options.label} does not accept "${hello.role}" connections`, remote, options.label);
      return;
    }
    const rest: Message[] = [];
    const badMessages: string[] = [];
    for (const raw of messages.slice(1)) {
      try {
        rest.push(parseMessage(raw));
      } catch (error) {
        badMessages.push((error as Error).message);
      }
    }
    // Messages that shared the hello's frame are queued and delivered once the owner attaches its handler.
    const deadAfterMs = options.deadAfterMs?.[hello.role];
    const connection = new Connection(
      ws,
      { label: `${hello.role} ${hello.name}`, heartbeatMs: options.heartbeatMs ?? 0, ...(deadAfterMs !== undefined ? { deadAfterMs } : {}), sharedMemory: options.sharedMemory ?? false },
      rest,
    );
    const id = `${hello.role}-${randomUUID().slice(0, 8)}`;
    connection.send(options.schedulerId ? { op: "welcome", id, schedulerId: options.schedulerId } : { op: "welcome", id });
    for (const message of badMessages) connection.replyError(SKEIN_ERROR_CODES.PROTOCOL, message);
    options.onConnection({ connection, hello, id });
  });
}

function refuse(ws: WebSocket, code: number, reason: string, remote: string, label: string, logIt = true): void {
  if (logIt) log.warn(`${label}: refused a connection from ${remote}: ${reason}`);
  try {
    ws.send(encodeFrame([{ op: "error", code: code === CLOSE_CODES.AUTH_FAILED ? SKEIN_ERROR_CODES.AUTH_FAILED : SKEIN_ERROR_CODES.PROTOCOL, message: reason }]));
  } catch {
    // The socket may already be gone; the close below still happens.
  }
  ws.close(code, truncateReason(reason));
  setTimeout(() => ws.terminate(), 1000).unref();
}

function attempt(url: URL, options: ConnectOptions, remainingMs: number): Promise<Connected> {
  return new Promise<Connected>((resolve, reject) => {
    const tls = options.tls;
    if (url.protocol === "wss:" && !tls) {
      reject(new SkeinError(options.label, SKEIN_ERROR_CODES.BAD_OPTION, `${url.href} uses TLS: give the cluster's certificate (SKEIN_TLS_FILE, or the tls option)`));
      return;
    }
    const ws = new WebSocket(url, {
      maxPayload: MAX_FRAME_BYTES,
      perMessageDeflate: false,
      handshakeTimeout: remainingMs,
      // An all-zero mask: ws then sends our bytes as they are instead of copying them into a masked
      // buffer (and the other side skips unmasking). Masking guards proxies against scripts in
      // browsers; both ends here are Skein processes, and every connection is authenticated.
      generateMask: zeroMask,
      ...(tls && url.protocol === "wss:"
        ? { cert: tls.cert, key: tls.key, ca: tls.ca, rejectUnauthorized: true, minVersion: "TLSv1.2" as const, ...(tls.checkServerName === false ? { checkServerIdentity: acceptAnyServerName } : {}) }
        : {}),
    });
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.terminate();
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error(`no welcome within ${formatSeconds(remainingMs)}`)), remainingMs);
    ws.once("error", (error) => fail(error));
    ws.once("close", (code, reason) => {
      const text = reason.toString() || `connection closed (code ${code})`;
      fail(code === CLOSE_CODES.AUTH_FAILED ? new SkeinError(options.label, SKEIN_ERROR_CODES.AUTH_FAILED, `${url.href} refused us: ${text}`) : new Error(text));
    });
    ws.once("open", () => {
      const hello: Message = { op: "hello", role: options.role, protocol: PROTOCOL_VERSION, secret: options.secret, name: options.name };
      ws.send(encodeFrame([hello, ...(options.firstMessages ?? [])]));
    });
    ws.once("message", (data) => {
      let first: Message;
      let rest: Message[];
      try {
        const raw = decodeFrame(data as Buffer);
        first = parseMessage(raw[0]);
        rest = raw.slice(1).map((m) => parseMessage(m));
      } catch (error) {
        fail(error as Error);
        return;
      }
      if (first.op === "error") {
        const code = first.code === SKEIN_ERROR_CODES.AUTH_FAILED ? SKEIN_ERROR_CODES.AUTH_FAILED : SKEIN_ERROR_CODES.CONNECT_FAILED;
        fail(new SkeinError(options.label, code, `${url.href} refused us: ${first.message}`));
        return;
      }
      if (first.op !== "welcome") {
        fail(new Error(`expected "welcome", got "${first.op}"`));
        return;
      }
      settled = true;
      clearTimeout(timer);
      ws.removeAllListeners("close");
      ws.removeAllListeners("error");
      const connection = new Connection(
        ws,
        { label: options.label, heartbeatMs: options.heartbeatMs ?? 0, ...(options.deadAfterMs !== undefined ? { deadAfterMs: options.deadAfterMs } : {}), sharedMemory: options.sharedMemory ?? false },
        rest,
      );
      resolve({ connection, welcome: first });
    });
  });
}

function checkAddress(address: string): URL {
  const bad = () =>
    new SkeinError("client", SKEIN_ERROR_CODES.BAD_OPTION, `scheduler address ${JSON.stringify(address)} must start with ws:// (or wss://), e.g. ws://127.0.0.1:8786`);
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw bad();
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:") throw bad();
  if (!url.port) {
    throw new SkeinError("client", SKEIN_ERROR_CODES.BAD_OPTION, `scheduler address ${JSON.stringify(address)} has no port; expected ws://host:port`);
  }
  return url;
}

function formatSeconds(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s` : `${ms} ms`;
}

function zeroMask(mask: Uint8Array): void {
  mask.fill(0);
}

/**
 * Node's TLS accepts a server name when this returns undefined (ws types it as boolean). Only used
 * with a private CA that signs nothing but the cluster's own certificate.
 */
const acceptAnyServerName = (() => undefined) as unknown as () => boolean;
