/**
 * Runs `work` over items, at most `limit` at a time. The first failure
 * starts no new work and aborts the signal the others see, so they can stop
 * early; all that are under way settle before the failure is thrown.
 */
export async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T, stop: AbortSignal) => Promise<void>): Promise<void> {
  const stop = new AbortController();
  let failure: { err: unknown } | undefined;
  let next = 0;
  const worker = async () => {
    while (!failure && next < items.length) {
      await work(items[next++]!, stop.signal).catch((err: unknown) => {
        failure ??= { err };
        stop.abort();
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.err;
}

/** One blocking call in this many is made even while they are slow, to see whether they still are. */
const PROBE_EVERY = 64;

/**
 * Whether blocking file system calls are still the cheaper way: while they
 * come from the kernel's caches they cost the main thread a few
 * microseconds, where trips to the threadpool cost several times that;
 * once they are slow on average (a cold disk, a network filesystem),
 * waiting for each in turn would cost more. The average is an exponential
 * one of what `timed` measured, and it is kept up to date even while slow,
 * so one slow moment does not send the rest of a run to the threadpool.
 */
export class BlockingCost {
  private averageMs = 0;
  private passed = 0;

  constructor(
    private readonly slowMs: number,
    private readonly weight: number,
  ) {}

  /** Whether to block for the next call (or group of `count` calls). */
  get cheap(): boolean {
    return this.averageMs <= this.slowMs || ++this.passed % PROBE_EVERY === 0;
  }

  /** Runs `calls`, `count` blocking calls, and counts their time. */
  timed<T>(count: number, calls: () => T): T {
    const started = performance.now();
    try {
      return calls();
    } finally {
      if (count) this.averageMs = (1 - this.weight) * this.averageMs + (this.weight * (performance.now() - started)) / count;
    }
  }
}
