/**
 * Opening a data link. A worker's WebSocket server also answers an HTTP upgrade to
 * `skein-data/1` (same port, same address), after which the socket carries data-link frames:
 *
 *   dialler   GET / with `Upgrade: skein-data/1`, `Skein-Role`, `Skein-Name`
 *   listener  101 with `Skein-Challenge: <listener nonce>`
 *   dialler   its nonce and its proof (32 + 32 bytes)                       (see data-auth.ts)
 *   listener  0x00 and its own proof, then frames; or 0x01, an `error` frame, and the end
 *
 * The listener reads nothing but the proof before it is checked, and the dialler takes no frame
 * from a listener that has not proved itself. Only plain `ws://` servers offer this: a cluster
 * that uses TLS keeps every byte on its TLS WebSocket connections.
 */
import type { IncomingMessage } from "node:http";
import { connect as connectTcp, type Socket } from "node:net";
import { SKEIN_ERROR_CODES, SkeinError, encodeFrame, type HelloMessage, type SkeinErrorCode } from "@skein/serialization";
import type { AuthLimiter } from "./auth-limiter.js";
import { DATA_LINK_UPGRADE, NONCE_BYTES, PROOF_BYTES, dialerProof, listenerProof, newNonce, proofMatches } from "./data-auth.js";
import { encodeFrameHead } from "./data-framing.js";
import { DataLink } from "./data-link.js";
import { log } from "./log.js";

type Role = HelloMessage["role"];

/** How long a dialler may take to prove itself before the listener drops it (as for hello). */
export const DATA_LINK_PROOF_TIMEOUT_MS = 10_000;

const ACCEPTED = 0x00;
const REFUSED = 0x01;
/** The listener's answer to the upgrade is a few headers; anything longer is not a Skein worker. */
const MAX_RESPONSE_BYTES = 8192;

export interface AcceptedDataLink {
  link: DataLink;
  role: Role;
  name: string;
}

export interface AcceptDataLinkOptions {
  secret: string;
  roles: readonly Role[];
  /** What this server is, for logs: "worker w-1". */
  label: string;
  limiter: AuthLimiter;
  onDataLink: (accepted: AcceptedDataLink) => void;
}

/** True when an HTTP upgrade request asks for a data link. */
export function wantsDataLink(request: IncomingMessage): boolean {
  return request.headers.upgrade?.toLowerCase() === DATA_LINK_UPGRADE;
}

/** Listener side: answer an upgrade request for a data link, check the dialler's proof, hand over the link. */
export function acceptDataLink(request: IncomingMessage, socket: Socket, head: Buffer, options: AcceptDataLinkOptions): void {
  const remote = socket.remoteAddress ?? "?";
  socket.on("error", () => socket.destroy());
  const role = request.headers["skein-role"];
  const name = headerName(request.headers["skein-name"]);
  if (typeof role !== "string" || !options.roles.includes(role as Role)) {
    log.warn(`${options.label}: refused a data link from ${remote}: it does not accept "${String(role)}" data links`);
    socket.end(`HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n`);
    return;
  }
  const listenerNonce = newNonce();
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${DATA_LINK_UPGRADE}\r\nSkein-Challenge: ${listenerNonce.toString("base64url")}\r\n\r\n`);

  const timer = setTimeout(() => {
    log.warn(`${options.label}: dropped a data link from ${remote}: no proof within ${DATA_LINK_PROOF_TIMEOUT_MS} ms`);
    socket.destroy();
  }, DATA_LINK_PROOF_TIMEOUT_MS);
  timer.unref();
  socket.once("close", () => clearTimeout(timer));
  let received = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    if (received.byteLength < NONCE_BYTES + PROOF_BYTES) return;
    socket.off("data", onData);
    clearTimeout(timer);
    const dialerNonce = received.subarray(0, NONCE_BYTES);
    const proof = received.subarray(NONCE_BYTES, NONCE_BYTES + PROOF_BYTES);
    if (!proofMatches(proof, dialerProof(options.secret, listenerNonce, dialerNonce))) {
      // Logged without what was presented, and rate-limited per address, as for a wrong hello.
      const verdict = options.limiter.fail(remote);
      if (verdict.log === "summary") log.warn(`${options.label}: ${verdict.suppressed} more failed data links from ${remote} were not logged`);
      if (verdict.log !== "suppressed") log.warn(`${options.label}: refused a data link from ${remote}: wrong cluster secret`);
      const frame = encodeFrame([{ op: "error", code: SKEIN_ERROR_CODES.AUTH_FAILED, message: "wrong cluster secret: use the secret of the cluster you are connecting to (SKEIN_SECRET or SKEIN_SECRET_FILE)" }]);
      socket.end(Buffer.concat([Uint8Array.of(REFUSED), encodeFrameHead(frame.byteLength, []), frame]));
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    socket.write(Buffer.concat([Uint8Array.of(ACCEPTED), listenerProof(options.secret, listenerNonce, dialerNonce)]));
    const link = new DataLink(socket, { label: `${role} ${name}` });
    socket.on("data", (bytes: Buffer) => link.receive(bytes));
    link.receive(received.subarray(NONCE_BYTES + PROOF_BYTES));
    options.onDataLink({ link, role: role as Role, name });
  };
  socket.on("data", onData);
  if (head.byteLength > 0) onData(head);
}

export interface ConnectDataLinkOptions {
  role: Role;
  secret: string;
  name: string;
  /** Give up when the link is not open after this long. */
  timeoutMs: number;
  label: string;
  /** Receive attachments into `SharedArrayBuffer`s. @default false */
  sharedMemory?: boolean;
}

/**
 * Dialler side: open a data link to the server at `address` (`ws://host:port`). Its socket reads
 * straight into the link's buffers from the first byte after the handshake.
 */
export function connectDataLink(address: string, options: ConnectDataLinkOptions): Promise<DataLink> {
  const url = new URL(address);
  if (url.protocol !== "ws:") {
    return Promise.reject(new SkeinError(options.label, SKEIN_ERROR_CODES.BAD_OPTION, `data links are plain TCP; ${address} is not a ws:// address`));
  }
  return new Promise<DataLink>((resolve, reject) => {
    // The handshake's bytes land here; after it, the link says where each read goes.
    const handshake = new Uint8Array(MAX_RESPONSE_BYTES);
    let filled = 0;
    let link: DataLink | undefined;
    let listenerNonce: Uint8Array | undefined;
    let dialerNonce: Uint8Array | undefined;
    let settled = false;

    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(error instanceof SkeinError ? error : new SkeinError(options.label, SKEIN_ERROR_CODES.CONNECT_FAILED, `could not open a data link to ${address}: ${error.message}`, { cause: error }));
    };
    const refused = (message: string, code: SkeinErrorCode = SKEIN_ERROR_CODES.CONNECT_FAILED) => fail(new SkeinError(options.label, code, `${address} refused a data link: ${message}`));

    /** Parse what has arrived of the handshake; returns when it needs more. */
    const advance = () => {
      if (!listenerNonce) {
        const end = Buffer.from(handshake.buffer, 0, filled).indexOf("\r\n\r\n");
        if (end < 0) {
          if (filled === handshake.byteLength) refused(`its answer has no end within ${MAX_RESPONSE_BYTES} bytes`);
          return;
        }
        const [status = "", ...headers] = Buffer.from(handshake.buffer, 0, end).toString("latin1").split("\r\n");
        if (!/^HTTP\/1\.1 101 /.test(status)) return refused(status);
        const challenge = headers.find((h) => /^skein-challenge:/i.test(h))?.slice("skein-challenge:".length).trim() ?? "";
        const nonce = Buffer.from(challenge, "base64url");
        if (nonce.byteLength !== NONCE_BYTES) return refused("no valid Skein-Challenge");
        listenerNonce = nonce;
        dialerNonce = newNonce();
        socket.write(Buffer.concat([dialerNonce, dialerProof(options.secret, listenerNonce, dialerNonce)]));
        handshake.copyWithin(0, end + 4, filled);
        filled -= end + 4;
      }
      if (filled === 0) return;
      if (handshake[0] === REFUSED) {
        // The listener explains in an `error` frame, then closes.
        const explainer = new DataLink(socket, { label: options.label });
        link = explainer;
        explainer.onMessages((messages) => {
          const error = messages.find((m) => m.op === "error");
          if (error?.op === "error") refused(error.message, error.code === SKEIN_ERROR_CODES.AUTH_FAILED ? SKEIN_ERROR_CODES.AUTH_FAILED : SKEIN_ERROR_CODES.CONNECT_FAILED);
        });
        explainer.onClose((_, reason) => refused(reason));
        explainer.receive(handshake.subarray(1, filled));
        return;
      }
      if (filled < 1 + PROOF_BYTES) return;
      if (handshake[0] !== ACCEPTED || !proofMatches(handshake.subarray(1, 1 + PROOF_BYTES), listenerProof(options.secret, listenerNonce, dialerNonce as Uint8Array))) {
        // Not a member of this cluster (or not a Skein worker at all): take nothing from it.
        return fail(new SkeinError(options.label, SKEIN_ERROR_CODES.AUTH_FAILED, `${address} did not prove that it knows the cluster secret; refusing its data`));
      }
      const opened = new DataLink(socket, { label: options.label, sharedMemory: options.sharedMemory ?? false });
      link = opened;
      settled = true;
      clearTimeout(timer);
      opened.receive(handshake.subarray(1 + PROOF_BYTES, filled));
      resolve(opened);
    };

    const socket: Socket = connectTcp({
      host: url.hostname.replace(/^\[|\]$/g, ""),
      port: Number(url.port),
      onread: {
        buffer: () => link?.readTarget() ?? (filled < handshake.byteLength ? handshake.subarray(filled) : handshake),
        callback: (n: number) => {
          if (link) link.didRead(n);
          else {
            filled += n;
            advance();
          }
          return true;
        },
      },
    });
    const timer = setTimeout(() => fail(new Error(`no answer within ${options.timeoutMs} ms`)), options.timeoutMs);
    socket.on("error", (error) => fail(error));
    socket.once("close", () => fail(new Error("the connection closed during the handshake")));
    socket.once("connect", () => {
      socket.setNoDelay(true);
      socket.write(
        `GET / HTTP/1.1\r\nHost: ${url.host}\r\nConnection: Upgrade\r\nUpgrade: ${DATA_LINK_UPGRADE}\r\n` +
          `Skein-Role: ${options.role}\r\nSkein-Name: ${encodeURIComponent(options.name)}\r\n\r\n`,
      );
    });
  });
}

// --- internal ---

function headerName(value: string | string[] | undefined): string {
  if (typeof value !== "string") return "?";
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
