import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Compare a presented secret with the cluster's in constant time. Hashing first makes both sides
 * the same length, so neither the content nor the length of the secret leaks through timing.
 */
export function secretsEqual(presented: string, expected: string): boolean {
  const a = createHash("sha256").update(presented).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b) && expected.length > 0;
}
