/**
 * Builds one UTF-8 text in a reusable, growing buffer. A relay writes large replies (a pull
 * page is ~200 KB to 1 MB) through it instead of concatenating one big string: such a string
 * lands in V8's large-object space and, at a hundred pages a second, forced a full
 * mark-compact every few hundred milliseconds (5-40 ms pauses; `node --trace-gc` on
 * `npm run bench -- relay-pull`).
 *
 * `bytes()` is a view of the buffer: use it before the next `reset()`.
 */
export class Utf8Writer {
  private buffer: Buffer;
  private length = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  /** Starts a new text (keeps the buffer). */
  reset(): this {
    this.length = 0;
    return this;
  }

  /** Appends `text` as UTF-8. */
  text(text: string): this {
    // A UTF-16 unit never takes more than 3 UTF-8 bytes.
    this.reserve(text.length * 3);
    this.length += this.buffer.write(text, this.length, 'utf8');
    return this;
  }

  /** The bytes written since the last `reset()` (a view, valid until then). */
  bytes(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }

  private reserve(more: number): void {
    if (this.length + more <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + more) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buffer.copy(next, 0, 0, this.length);
    this.buffer = next;
  }
}
