import { describe, expect, it } from "vitest";
import { NONCE_BYTES, PROOF_BYTES, dialerProof, listenerProof, newNonce, proofMatches } from "./data-auth.js";

describe("data link proofs", () => {
  const listenerNonce = newNonce();
  const dialerNonce = newNonce();

  it("are fresh nonces and fixed-size proofs", () => {
    expect(listenerNonce.byteLength).toBe(NONCE_BYTES);
    expect(Buffer.compare(listenerNonce, dialerNonce)).not.toBe(0);
    expect(dialerProof("s", listenerNonce, dialerNonce).byteLength).toBe(PROOF_BYTES);
  });

  it("match only for the same secret, the same nonces and the same direction", () => {
    const proof = dialerProof("s", listenerNonce, dialerNonce);
    expect(proofMatches(proof, dialerProof("s", listenerNonce, dialerNonce))).toBe(true);
    expect(proofMatches(proof, dialerProof("t", listenerNonce, dialerNonce))).toBe(false);
    expect(proofMatches(proof, dialerProof("s", newNonce(), dialerNonce))).toBe(false);
    expect(proofMatches(proof, dialerProof("s", listenerNonce, newNonce()))).toBe(false);
    // Swapping the nonces, or echoing the dialler's proof back as the listener's, proves nothing.
    expect(proofMatches(proof, dialerProof("s", dialerNonce, listenerNonce))).toBe(false);
    expect(proofMatches(proof, listenerProof("s", listenerNonce, dialerNonce))).toBe(false);
  });

  it("never match a proof of another length", () => {
    const proof = listenerProof("s", listenerNonce, dialerNonce);
    expect(proofMatches(proof.subarray(0, 31), proof)).toBe(false);
    expect(proofMatches(new Uint8Array(0), proof)).toBe(false);
  });
});
