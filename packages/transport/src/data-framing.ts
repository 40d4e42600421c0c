/**
 * Frames on a data link (a plain TCP stream, see data-link.ts). Each frame is
 *
 *   head         12 bytes: magic "SKDF", the frame's byte length, the number of attachments (u32 BE)
 *   sizes        a u32 BE byte length per attachment
 *   frame        the CBOR frame (tag 40313 on `n` stands for attachment `n`)
 *   attachments  their raw bytes, in order
 *
 * The receiver knows every attachment's size before its first byte arrives, so `FrameReader` can
 * tell the socket to write each one straight into the buffer that will hold it: no reassembly, no
 * copy. Small parts (head, sizes, frame) are read in bulk into a scratch buffer instead, so a burst
 * of small frames costs a few reads, not four per frame.
 */
import { MAX_ATTACHMENTS, SKEIN_ERROR_CODES, SkeinError } from "@skein/serialization";

const MAGIC = 0x534b_4446; // "SKDF"
const HEAD_BYTES = 12;
/**
 * Reads of small parts land here. A part larger than this (a big frame, a long list of sizes) is
 * read into a buffer of its own, like an attachment.
 */
const SCRATCH_BYTES = 64 * 1024;

/** The bytes that go before `frame`: the head and the attachments' sizes. */
export function encodeFrameHead(frameBytes: number, attachmentSizes: readonly number[]): Uint8Array {
  const head = new Uint8Array(HEAD_BYTES + 4 * attachmentSizes.length);
  const view = new DataView(head.buffer);
  view.setUint32(0, MAGIC);
  view.setUint32(4, frameBytes);
  view.setUint32(8, attachmentSizes.length);
  attachmentSizes.forEach((size, i) => view.setUint32(HEAD_BYTES + 4 * i, size));
  return head;
}

export interface FrameReaderOptions {
  /** Largest frame, and largest attachment, accepted. */
  maxBytes: number;
  /** Attachments arrive in `SharedArrayBuffer`s (each its own), else in `ArrayBuffer`s. */
  sharedMemory: boolean;
  /** A whole frame has arrived: its CBOR (a buffer of its own) and its attachments. */
  onFrame: (frame: Uint8Array, attachments: Uint8Array[]) => void;
}

type Step = "head" | "sizes" | "frame" | "attachment";

/**
 * Turns a byte stream into frames. Either hand it bytes that arrived elsewhere (`receive`), or let
 * the socket write into `target()` and report with `wrote(n)`. Throws `PROTOCOL` when the stream
 * is not a valid sequence of frames; nothing after that can be read.
 */
export class FrameReader {
  readonly #options: FrameReaderOptions;
  readonly #scratch = new Uint8Array(SCRATCH_BYTES);
  /** Unparsed bytes in the scratch buffer are `#start` to `#end`. */
  #start = 0;
  #end = 0;
  /** The part being read straight into its own buffer, and how much of it has arrived. */
  #direct: Uint8Array | undefined;
  #directFilled = 0;
  #step: Step = "head";
  #frameBytes = 0;
  #sizes: number[] = [];
  #frame: Uint8Array | undefined;
  #attachments: Uint8Array[] = [];

  constructor(options: FrameReaderOptions) {
    this.#options = options;
  }

  /** True while part of a frame has arrived but not all of it (a stream ending now was cut short). */
  get midFrame(): boolean {
    return this.#step !== "head" || this.#direct !== undefined || this.#end > this.#start;
  }

  /** Where the next bytes from the stream should go: never empty. */
  target(): Uint8Array {
    if (this.#direct) return this.#direct.subarray(this.#directFilled);
    return this.#scratch.subarray(this.#end);
  }

  /** `n` bytes were written at the start of the last `target()`. */
  wrote(n: number): void {
    if (this.#direct) {
      this.#directFilled += n;
      if (this.#directFilled < this.#direct.byteLength) return;
      const part = this.#direct;
      this.#direct = undefined;
      this.#partDone(part);
    } else {
      this.#end += n;
    }
    this.#parse();
  }

  /** Bytes that arrived some other way (copied to where `target()` says). */
  receive(bytes: Uint8Array): void {
    let offset = 0;
    while (offset < bytes.byteLength) {
      const into = this.target();
      const n = Math.min(into.byteLength, bytes.byteLength - offset);
      into.set(bytes.subarray(offset, offset + n));
      offset += n;
      this.wrote(n);
    }
  }

  // --- internal ---

  /** Take every whole part the scratch buffer holds; start reading a large part in place. */
  #parse(): void {
    for (;;) {
      const need = this.#need();
      const available = this.#end - this.#start;
      if (this.#step === "attachment" || need > SCRATCH_BYTES) {
        const part = this.#allocate(need);
        const take = Math.min(available, need);
        part.set(this.#scratch.subarray(this.#start, this.#start + take));
        this.#start += take;
        if (take < need) {
          // The scratch buffer is now empty: the rest goes straight into place.
          this.#start = this.#end = 0;
          this.#direct = part;
          this.#directFilled = take;
          return;
        }
        this.#partDone(part);
        continue;
      }
      if (available < need) {
        // Keep room for the whole part after what has arrived of it.
        if (this.#start > 0 && SCRATCH_BYTES - this.#start < need) {
          this.#scratch.copyWithin(0, this.#start, this.#end);
          this.#end -= this.#start;
          this.#start = 0;
        }
        return;
      }
      const part = this.#scratch.subarray(this.#start, this.#start + need);
      this.#start += need;
      if (this.#start === this.#end) this.#start = this.#end = 0;
      this.#partDone(part);
    }
  }

  #need(): number {
    switch (this.#step) {
      case "head":
        return HEAD_BYTES;
      case "sizes":
        return 4 * this.#sizes.length;
      case "frame":
        return this.#frameBytes;
      case "attachment":
        return this.#sizes[this.#attachments.length] as number;
    }
  }

  #allocate(size: number): Uint8Array {
    if (this.#step !== "attachment") return new Uint8Array(size);
    return new Uint8Array(this.#options.sharedMemory ? new SharedArrayBuffer(size) : new ArrayBuffer(size));
  }

  /** `part` is the whole current part. Views into the scratch buffer are only valid until we return. */
  #partDone(part: Uint8Array): void {
    const view = new DataView(part.buffer, part.byteOffset, part.byteLength);
    switch (this.#step) {
      case "head": {
        const magic = view.getUint32(0);
        if (magic !== MAGIC) throw violation(`a frame must start with "SKDF", got 0x${magic.toString(16).padStart(8, "0")}`);
        this.#frameBytes = view.getUint32(4);
        const count = view.getUint32(8);
        if (this.#frameBytes === 0 || this.#frameBytes > this.#options.maxBytes) throw violation(`frame length ${this.#frameBytes} is not from 1 to ${this.#options.maxBytes}`);
        if (count > MAX_ATTACHMENTS) throw violation(`${count} attachments announced, above the limit of ${MAX_ATTACHMENTS}`);
        this.#sizes = new Array<number>(count);
        this.#step = count > 0 ? "sizes" : "frame";
        return;
      }
      case "sizes":
        for (let i = 0; i < this.#sizes.length; i++) {
          const size = view.getUint32(4 * i);
          if (size === 0 || size > this.#options.maxBytes) throw violation(`attachment size ${size} is not from 1 to ${this.#options.maxBytes}`);
          this.#sizes[i] = size;
        }
        this.#step = "frame";
        return;
      case "frame":
        // Byte strings decoded from the frame are views into it: it must not be the scratch buffer.
        this.#frame = part.buffer === this.#scratch.buffer ? part.slice() : part;
        if (this.#sizes.length > 0) this.#step = "attachment";
        else this.#emit();
        return;
      case "attachment":
        this.#attachments.push(part);
        if (this.#attachments.length === this.#sizes.length) this.#emit();
        return;
    }
  }

  #emit(): void {
    const frame = this.#frame as Uint8Array;
    const attachments = this.#attachments;
    this.#step = "head";
    this.#frame = undefined;
    this.#sizes = [];
    this.#attachments = [];
    this.#options.onFrame(frame, attachments);
  }
}

function violation(message: string): SkeinError {
  return new SkeinError("transport", SKEIN_ERROR_CODES.PROTOCOL, message);
}
