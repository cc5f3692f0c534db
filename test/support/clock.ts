import type { Clock } from "../../src/clock.js";

export interface FakeClockOptions {
  /** Every sleep returns at once (on the next event-loop turn) and moves now() forward by its length. */
  autoAdvance?: boolean;
}

export type FakeClock = Clock & {
  /** Moves time forward, waking each sleeper whose deadline passes, in deadline order. */
  advance(ms: number): Promise<void>;
  /** The length of every sleep requested, in order. */
  sleeps: number[];
};

interface Sleeper {
  deadline: number;
  wake(): void;
}

/** A clock for polling and backoff tests; starts at a fixed, realistic epoch time. */
export function createFakeClock(start = Date.UTC(2025, 0, 1), opts: FakeClockOptions = {}): FakeClock {
  let now = start;
  const sleepers: Sleeper[] = [];
  const sleeps: number[] = [];

  function sleep(ms: number, signal?: AbortSignal): Promise<void> {
    sleeps.push(ms);
    if (signal?.aborted) return Promise.resolve();
    if (opts.autoAdvance) {
      // setImmediate rather than a microtask: a loop that never ends must
      // still let timers (and the test's timeout) run.
      return new Promise((resolve) => setImmediate(() => ((now += Math.max(0, ms)), resolve())));
    }
    return new Promise((resolve) => {
      const sleeper: Sleeper = { deadline: now + Math.max(0, ms), wake };
      function wake() {
        sleepers.splice(sleepers.indexOf(sleeper), 1);
        signal?.removeEventListener("abort", wake);
        resolve();
      }
      signal?.addEventListener("abort", wake, { once: true });
      sleepers.push(sleeper);
    });
  }

  async function advance(ms: number): Promise<void> {
    const target = now + ms;
    for (;;) {
      const due = sleepers.filter((s) => s.deadline <= target).sort((a, b) => a.deadline - b.deadline)[0];
      if (!due) break;
      now = Math.max(now, due.deadline);
      due.wake();
      // Let the woken code run up to its next sleep before looking again.
      await new Promise((r) => setImmediate(r));
    }
    now = target;
    await new Promise((r) => setImmediate(r));
  }

  return { now: () => now, sleep, advance, sleeps };
}
