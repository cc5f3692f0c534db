/**
 * A budget of calls per second for this process (a token bucket), so that
 * however many children a run has, its API use stays inside the account's
 * quotas, which every other process of the account shares
 * (docs/fanout.md, "API use").
 */
import type { Clock } from "../../clock.js";

export class RateBudget {
  private tokens: number;
  private last: number;
  private queue: Promise<void> = Promise.resolve();
  /** Calls made through the budget, for the benchmark and verbose output. */
  calls = 0;

  constructor(
    private readonly perSecond: number,
    private readonly clock: Clock,
    private readonly burst = perSecond,
  ) {
    this.tokens = burst;
    this.last = clock.now();
  }

  /** Waits for a call's turn; calls keep their order. */
  take(): Promise<void> {
    const turn = this.queue.then(async () => {
      for (this.refill(); this.tokens < 1; this.refill()) await this.clock.sleep(((1 - this.tokens) / this.perSecond) * 1000);
      this.tokens -= 1;
      this.calls++;
    });
    this.queue = turn;
    return turn;
  }

  /** A call now if the budget has room, else false: for work that may wait for the next round. */
  tryTake(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    this.calls++;
    return true;
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
  }
}

/** A client whose every call waits for the budget. */
export function budgeted<C extends { send(command: never): Promise<unknown> }>(client: C, budget: RateBudget): C {
  return { send: async (command: never) => (await budget.take(), client.send(command)) } as unknown as C;
}
