// Memory discipline for the zip writer: reused read buffers, batched small writes.

const BATCH_BYTES = 64 * 1024;
// Large enough to go out alone: deflate's 64 KiB stored blocks (65,535 bytes) among them.
const PASS_BYTES = 32 * 1024;

/**
 * Read buffers for deflated chunks, reused: a steady stream of fresh
 * megabyte buffers is garbage the collector sees late, and it shows as RSS.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];

  constructor(
    private readonly size: number,
    private readonly keep: number,
  ) {}

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  give(b: Buffer): void {
    if (this.free.length < this.keep) this.free.push(Buffer.from(b.buffer, b.byteOffset, this.size));
  }
}

/**
 * Gathers headers and small entries into writes of at least 64 KiB, and
 * passes buffers of 32 KiB and more through uncopied; counts every byte
 * for offsets.
 */
export class Output {
  total = 0;
  private small: Buffer[] = [];
  private smallBytes = 0;
  private ready: Buffer[] = [];

  add(b: Buffer): void {
    this.total += b.length;
    if (b.length >= PASS_BYTES) {
      this.ready.push(...this.takeSmall(), b);
      return;
    }
    this.small.push(b);
    this.smallBytes += b.length;
    if (this.smallBytes >= BATCH_BYTES) this.ready.push(...this.takeSmall());
  }

  /** What is ready to write; with `all`, the small remainder too. */
  drain(all: boolean): Buffer[] {
    const out = all ? [...this.ready, ...this.takeSmall()] : this.ready;
    this.ready = [];
    return out;
  }

  private takeSmall(): Buffer[] {
    if (!this.small.length) return [];
    const b = Buffer.concat(this.small);
    this.small = [];
    this.smallBytes = 0;
    return [b];
  }
}
