/**
 * Mutual challenge-response with the cluster secret, for data links. Each side sends a fresh random
 * nonce and proves it knows the secret with an HMAC over both nonces; the secret itself never
 * crosses the wire. The dialling side proves itself first, so a listening worker hands out nothing
 * computed from the secret to a stranger; the dialling side then checks the listener's proof before
 * it takes any data from it. Fresh nonces on both sides make an old exchange useless to replay, and
 * the two directions use different labels, so one side's proof can never be echoed back as the other's.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** The HTTP `Upgrade` token that asks a worker's server for a data link instead of a WebSocket. */
export const DATA_LINK_UPGRADE = "skein-data/1";
export const NONCE_BYTES = 32;
export const PROOF_BYTES = 32;

export function newNonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

/** What the dialling side sends: proof that it knows `secret`, bound to both nonces. */
export function dialerProof(secret: string, listenerNonce: Uint8Array, dialerNonce: Uint8Array): Buffer {
  return proof("skein data link: dialer", secret, listenerNonce, dialerNonce);
}

/** What the listening side answers once the dialler has proved itself. */
export function listenerProof(secret: string, listenerNonce: Uint8Array, dialerNonce: Uint8Array): Buffer {
  return proof("skein data link: listener", secret, listenerNonce, dialerNonce);
}

/** Constant-time comparison of a received proof with the expected one. */
export function proofMatches(received: Uint8Array, expected: Uint8Array): boolean {
  return received.byteLength === expected.byteLength && timingSafeEqual(received, expected);
}

function proof(label: string, secret: string, listenerNonce: Uint8Array, dialerNonce: Uint8Array): Buffer {
  return createHmac("sha256", secret).update(label).update("\0").update(listenerNonce).update(dialerNonce).digest();
}
