/**
 * `ws`, loaded with `require`. Imported from ESM, its wrapper pulls in eight CommonJS files, and
 * Node scans each for its export names before running it: ~20 ms of every worker process's start.
 */
import { createRequire } from "node:module";
import type { WebSocket as WebSocketClass, WebSocketServer as WebSocketServerClass } from "ws";

const ws = createRequire(import.meta.url)("ws") as { WebSocket: typeof WebSocketClass; WebSocketServer: typeof WebSocketServerClass };

export const WebSocket = ws.WebSocket;
export type WebSocket = WebSocketClass;
export const WebSocketServer = ws.WebSocketServer;
export type WebSocketServer = WebSocketServerClass;
