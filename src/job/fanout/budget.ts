/**
 * A budget of calls per second for this process, so that however many
 * children a run has, its API use stays inside the account's quotas, which
 * every other process of the account shares (docs/fanout.md, "API use").
 * It is a sliding window: a call goes ahead when fewer than `perSecond`
 * calls were made in the second before it, so no second, wherever it
 * starts, ever sees more (a token bucket would let a burst and the refill
 * land in the same second).
 */
import type { Clock } from "../../clock.js";

export class RateBudget {
  /** When each of the last `perSecond` calls was made, oldest first. */
  private readonly recent: number[] = [];
  private queue: Promise<void> = Promise.resolve();
  /** Calls made through the budget, for the benchmark and verbose output. */
  calls = 0;

  constructor(
    private readonly perSecond: number,
    private readonly clock: Clock,
  ) {}

  /** Waits for a call's turn; calls keep their order. */
  take(): Promise<void> {
    const turn = this.queue.then(async () => {
      for (let wait = this.waitMs(); wait > 0; wait = this.waitMs()) await this.clock.sleep(wait);
      this.spend();
    });
    this.queue = turn;
    return turn;
  }

  /** A call now if the budget has room, else false: for work that may wait for the next round. */
  tryTake(): boolean {
    if (this.waitMs() > 0) return false;
    this.spend();
    return true;
  }

  /** How long until the oldest of the window's calls is a second old; 0 when there is room now. */
  private waitMs(): number {
    if (this.recent.length < this.perSecond) return 0;
    return Math.max(0, this.recent[0]! + 1000 - this.clock.now());
  }

  private spend(): void {
    this.recent.push(this.clock.now());
    if (this.recent.length > this.perSecond) this.recent.shift();
    this.calls++;
  }
}

/** A client whose every call waits for the budget. */
export function budgeted<C extends { send(command: never): Promise<unknown> }>(client: C, budget: RateBudget): C {
  return { send: async (command: never) => (await budget.take(), client.send(command)) } as unknown as C;
}
