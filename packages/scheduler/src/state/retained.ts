/**
 * What the scheduler keeps from a message must not point into it. The frame decoder hands out
 * strings that are slices of larger strings (a whole run of the frame's text, keys and hashes of
 * other tasks included) and byte strings that are views of the frame's buffer. Kept as they are,
 * one task key or one task's arguments keep a whole update-graph frame alive for as long as the
 * task lives: for 100 000 pending tasks, more memory than the tasks themselves.
 */

/** A copy of `s` that holds only its own characters (not a slice of a larger string). */
export function ownString(s: string): string {
  // The JSON parser builds a new flat string; a slice or concatenation of a slice can stay a view.
  return JSON.parse(JSON.stringify(s)) as string;
}

/**
 * The byte strings `all` copied into one new buffer, as views of it, in the same order: one
 * allocation for a whole graph instead of one per task, and nothing left pointing at the frame.
 */
export function packBytes(all: readonly Uint8Array[]): Uint8Array[] {
  let total = 0;
  for (const bytes of all) total += bytes.byteLength;
  const buffer = new Uint8Array(total);
  const views: Uint8Array[] = [];
  let offset = 0;
  for (const bytes of all) {
    buffer.set(bytes, offset);
    views.push(buffer.subarray(offset, offset + bytes.byteLength));
    offset += bytes.byteLength;
  }
  return views;
}
