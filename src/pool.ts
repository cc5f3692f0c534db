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
