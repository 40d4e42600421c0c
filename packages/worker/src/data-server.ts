/**
 * A worker's data server: peers and clients fetch results here with get-data, over a data link
 * (plain TCP, the fast path) or a WebSocket (clusters with TLS). Results spilled to
 * disk are read back for the reply, which then waits for them; other requests are answered
 * meanwhile. A result that cannot be read back is reported missing (the asker tells the scheduler,
 * which recomputes it).
 */
import { SKEIN_ERROR_CODES, type MessageOf } from "@skein/serialization";
import { listen, log, type Listener, type MessageLink, type TlsOptions } from "@skein/transport";
import type { SpillStore } from "./spill-store.js";

export interface DataServerOptions {
  host: string;
  secret: string;
  /** The worker's name, for logs and the connection label. */
  name: string;
  store: SpillStore;
  /** The worker's recent log lines, for `client.getWorkerLogs()`. */
  logLines: () => string[];
  tls?: TlsOptions | undefined;
}

export function startDataServer({ host, secret, name, store, logLines, tls }: DataServerOptions): Promise<Listener> {
  return listen({
    tls,
    host,
    port: 0,
    secret,
    roles: ["peer", "client"],
    label: `worker ${name}`,
    onConnection: ({ connection }) => serve(connection, store, name, logLines),
    onDataLink: ({ link }) => serve(link, store, name, logLines),
  });
}

// --- internal ---

function serve(connection: MessageLink, store: SpillStore, name: string, logLines: () => string[]): void {
  connection.onMessages((messages) => {
    for (const message of messages) {
      if (message.op === "get-data") answer(connection, message, store, name);
      else if (message.op === "get-logs") connection.send({ op: "logs", requestId: message.requestId, lines: logLines() });
      else if (message.op !== "error") connection.replyError(SKEIN_ERROR_CODES.PROTOCOL, `a worker's data server answers get-data and get-logs, not "${message.op}"`, message.op);
    }
  });
}

function answer(connection: MessageLink, request: MessageOf<"get-data">, store: SpillStore, name: string): void {
  const data: Record<string, Uint8Array> = {};
  const missing: string[] = [];
  let spilled: string[] | undefined;
  for (const key of request.keys) {
    const bytes = store.peek(key);
    if (bytes) data[key] = bytes;
    else if (store.has(key)) (spilled ??= []).push(key);
    else missing.push(key);
  }
  if (!spilled) {
    connection.send({ op: "data", requestId: request.requestId, data, missing });
    return;
  }
  const reads = spilled.map(async (key) => {
    const bytes = await store.get(key).catch((error: Error) => void log.warn(`worker ${name}: ${error.message}`));
    if (bytes) data[key] = bytes;
    else missing.push(key);
  });
  void Promise.all(reads).then(() => connection.send({ op: "data", requestId: request.requestId, data, missing }));
}
