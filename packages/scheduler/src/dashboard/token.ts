/**
 * The dashboard's access token. The link a user opens carries a token derived from the cluster
 * secret, never the secret itself: a browser history, a proxy log or a screenshot of the address
 * bar then gives access to the dashboard (read-only) but not to the cluster (running code).
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

/** Versioned, so a future change of what the token grants can invalidate old links. */
const TOKEN_LABEL = "skein-dashboard-v1";

/** HMAC-SHA256 of a fixed label, keyed with the cluster secret; base64url, so it goes in a URL as is. */
export function dashboardToken(secret: string): string {
  return createHmac("sha256", secret).update(TOKEN_LABEL).digest("base64url");
}

/**
 * Constant-time check of a presented token. Both sides are hashed first so the comparison has a
 * fixed length and neither the token's content nor its length leaks through timing.
 */
export function tokenMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined || expected.length === 0) return false;
  const a = createHash("sha256").update(presented).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Where a request may carry the token: `?token=` (the link, the page's own requests, the live
 * WebSocket) or `Authorization: Bearer …` (Prometheus' `authorization` scrape setting).
 */
export function presentedToken(url: URL, headers: IncomingHttpHeaders): string | undefined {
  const fromQuery = url.searchParams.get("token");
  if (fromQuery !== null) return fromQuery;
  const auth = headers.authorization;
  const match = auth === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(auth);
  return match?.[1];
}
