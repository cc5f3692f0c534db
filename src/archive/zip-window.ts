/**
 * The bounded queue between the zip writer's read-ahead and its in-order
 * output: pieces are pushed as soon as their reads and deflates start, and
 * taken in order as they finish, so a slow reader of the archive holds back
 * the reads instead of letting memory grow.
 */
export class PieceWindow<T extends { bytes: number }> {
  private readonly queue: T[] = [];
  private inFlight = 0;
  private ended = false;
  private failure: { error: unknown } | undefined;
  private wakeProducer: (() => void) | undefined;
  private wakeConsumer: (() => void) | undefined;

  constructor(
    private readonly maxPieces: number,
    private readonly maxBytes: number,
  ) {}

  /**
   * Until a piece of `bytes` fits, a promise to wait on; undefined when it
   * fits now, so the thousands of small files that fit at once cost no
   * promise each. One piece always fits, however large.
   */
  room(bytes: number): Promise<void> | undefined {
    return this.fits(bytes) ? undefined : this.waitForRoom(bytes);
  }

  private fits(bytes: number): boolean {
    return this.ended || (this.queue.length < this.maxPieces && (this.inFlight === 0 || this.inFlight + bytes <= this.maxBytes));
  }

  private async waitForRoom(bytes: number): Promise<void> {
    while (!this.fits(bytes)) await new Promise<void>((resolve) => (this.wakeProducer = resolve));
  }

  push(piece: T): void {
    this.queue.push(piece);
    this.inFlight += piece.bytes;
    this.wake("consumer");
  }

  /** The next piece in order; undefined once the producer has ended and all were taken. */
  async take(): Promise<T | undefined> {
    for (;;) {
      if (this.failure) throw this.failure.error;
      if (this.queue.length) return this.queue.shift();
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => (this.wakeConsumer = resolve));
    }
  }

  /** A taken piece is written: its bytes no longer count. */
  release(piece: T): void {
    this.inFlight -= piece.bytes;
    this.wake("producer");
  }

  /** No more pieces (also lets a waiting producer go, so it can see it was stopped). */
  end(): void {
    this.ended = true;
    this.wake("consumer");
    this.wake("producer");
  }

  fail(error: unknown): void {
    this.failure ??= { error };
    this.end();
  }

  get closed(): boolean {
    return this.ended;
  }

  private wake(who: "producer" | "consumer"): void {
    const wake = who === "producer" ? this.wakeProducer : this.wakeConsumer;
    if (who === "producer") this.wakeProducer = undefined;
    else this.wakeConsumer = undefined;
    wake?.();
  }
}
