import { describe, expect, it } from "vitest";
import { FrameReader, encodeFrameHead } from "./data-framing.js";

const KiB = 1024;

function pattern(n: number, seed: number): Uint8Array {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = (i * 7 + seed) & 0xff;
  return a;
}

interface Frame {
  frame: Uint8Array;
  attachments: Uint8Array[];
}

/** The bytes of these frames as a sender writes them. */
function wire(frames: Frame[]): Uint8Array {
  const parts = frames.flatMap(({ frame, attachments }) => [encodeFrameHead(frame.byteLength, attachments.map((a) => a.byteLength)), frame, ...attachments]);
  return Buffer.concat(parts);
}

function reader(options: { sharedMemory?: boolean; maxBytes?: number } = {}): { reader: FrameReader; got: Frame[] } {
  const got: Frame[] = [];
  const r = new FrameReader({ maxBytes: options.maxBytes ?? 1024 ** 3, sharedMemory: options.sharedMemory ?? false, onFrame: (frame, attachments) => got.push({ frame, attachments }) });
  return { reader: r, got };
}

/** Feed `bytes` the way a socket with `onread` does: into `target()`, at most `readSize` bytes a time. */
function readLikeSocket(r: FrameReader, bytes: Uint8Array, readSize: number): void {
  let offset = 0;
  while (offset < bytes.byteLength) {
    const into = r.target();
    // An empty buffer would make a real socket fail the read (ENOBUFS).
    if (into.byteLength === 0) throw new Error("target() returned an empty buffer");
    const n = Math.min(into.byteLength, readSize, bytes.byteLength - offset);
    into.set(bytes.subarray(offset, offset + n));
    offset += n;
    r.wrote(n);
  }
}

// Frames chosen to cross every boundary the reader has: none, tiny, exactly the scratch size, larger
// than it (both as frame and as attachment), many attachments in one frame.
const frames: Frame[] = [
  { frame: pattern(1, 1), attachments: [] },
  { frame: pattern(40, 2), attachments: [pattern(1, 3)] },
  { frame: pattern(300, 4), attachments: [pattern(64 * KiB, 5), pattern(64 * KiB - 1, 6), pattern(64 * KiB + 1, 7)] },
  { frame: pattern(64 * KiB, 8), attachments: [] },
  { frame: pattern(200 * KiB, 9), attachments: [pattern(3, 10)] },
  { frame: pattern(10, 11), attachments: Array.from({ length: 20_000 }, (_, i) => pattern(1, i)) },
  { frame: pattern(5, 12), attachments: [pattern(1024 * KiB + 3, 13)] },
];
const bytes = wire(frames);

describe("FrameReader", () => {
  for (const readSize of [1, 7, 12, 4096, 65 * KiB, 1 << 30]) {
    it(`reads frames whatever the reads' sizes (at most ${readSize} bytes a read)`, () => {
      const { reader: r, got } = reader();
      // Byte by byte, the first frames are enough (and quick).
      const expected = readSize === 1 ? frames.slice(0, 4) : frames;
      readLikeSocket(r, wire(expected), readSize);
      expect(got.length).toBe(expected.length);
      got.forEach((g, i) => {
        expect(Buffer.compare(g.frame, expected[i]!.frame)).toBe(0);
        expect(g.attachments.length).toBe(expected[i]!.attachments.length);
        g.attachments.forEach((a, j) => expect(Buffer.compare(a, expected[i]!.attachments[j]!)).toBe(0));
      });
      expect(r.midFrame).toBe(false);
    });
  }

  it("puts each attachment in a buffer of its own, shared memory when asked, and frames outside its scratch buffer", () => {
    const { reader: r, got } = reader({ sharedMemory: true });
    r.receive(bytes);
    for (const { frame, attachments } of got) {
      for (const a of attachments) {
        expect(a.buffer).toBeInstanceOf(SharedArrayBuffer);
        expect(a.byteOffset).toBe(0);
        expect(a.buffer.byteLength).toBe(a.byteLength);
      }
      // Decoded byte strings are views into the frame: it must survive the next reads.
      expect(frame.buffer.byteLength).toBe(frame.byteLength);
    }
    const { reader: plain, got: plainGot } = reader();
    plain.receive(bytes);
    expect(plainGot[2]!.attachments[0]!.buffer).toBeInstanceOf(ArrayBuffer);
  });

  it("has the socket write a large attachment straight into its destination", () => {
    const { reader: r, got } = reader();
    const big = pattern(4 * 1024 * KiB, 1);
    const all = wire([{ frame: pattern(9, 2), attachments: [big] }]);
    // The head and the frame arrive in a first read that ends inside the attachment.
    const first = r.target();
    first.set(all.subarray(0, 100));
    r.wrote(100);
    const into = r.target();
    expect(into.byteLength).toBe(big.byteLength - (100 - 12 - 4 - 9));
    into.set(all.subarray(100));
    r.wrote(into.byteLength);
    expect(got).toHaveLength(1);
    // The buffer the socket wrote into is the attachment delivered.
    expect(got[0]!.attachments[0]!.buffer).toBe(into.buffer);
    expect(Buffer.compare(got[0]!.attachments[0]!, big)).toBe(0);
  });

  it("knows when the stream stops in the middle of a frame", () => {
    const { reader: r } = reader();
    const one = wire([{ frame: pattern(9, 2), attachments: [pattern(100 * KiB, 3)] }]);
    for (const cut of [5, 12, 16, 25, 30 * KiB]) {
      const { reader: fresh } = reader();
      fresh.receive(one.subarray(0, cut));
      expect(fresh.midFrame).toBe(true);
    }
    r.receive(one);
    expect(r.midFrame).toBe(false);
  });

  it("refuses streams that are not frames", () => {
    const head = (magic: number, frameBytes: number, count: number, ...sizes: number[]) => {
      const b = Buffer.alloc(12 + 4 * sizes.length);
      b.writeUInt32BE(magic, 0);
      b.writeUInt32BE(frameBytes, 4);
      b.writeUInt32BE(count, 8);
      sizes.forEach((s, i) => b.writeUInt32BE(s, 12 + 4 * i));
      return b;
    };
    const SKDF = 0x534b4446;
    const cases: [Uint8Array, RegExp][] = [
      [Buffer.from("GET / HTTP/1.1\r\n\r\n"), /must start with "SKDF"/],
      [head(SKDF, 0, 0), /frame length 0 is not from 1/],
      [head(SKDF, 2000, 0), /frame length 2000 is not from 1 to 1000/],
      [head(SKDF, 5, 70_000), /70000 attachments announced, above the limit of 65536/],
      [head(SKDF, 5, 2, 10, 0), /attachment size 0 is not from 1/],
      [head(SKDF, 5, 1, 1001), /attachment size 1001 is not from 1 to 1000/],
    ];
    for (const [stream, message] of cases) {
      const { reader: r, got } = reader({ maxBytes: 1000 });
      expect(() => r.receive(stream)).toThrow(message);
      expect(got).toEqual([]);
    }
  });
});
