/** The last bytes a job printed, kept by backends that run jobs themselves (local, ssh) for "job ended before its workers connected" errors. */
const MAX_BYTES = 64 * 1024;

export class OutputTail {
  #chunks: Buffer[] = [];
  #bytes = 0;

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#bytes += chunk.byteLength;
    while (this.#bytes > MAX_BYTES && this.#chunks.length > 1) {
      this.#bytes -= (this.#chunks.shift() as Buffer).byteLength;
    }
  }

  text(): string {
    return Buffer.concat(this.#chunks).toString("utf8");
  }
}
