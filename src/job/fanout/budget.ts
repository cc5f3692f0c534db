/**
 * A budget of calls per second for this process, so that however many
 * children a run has, its API use stays inside the account's quotas, which
 * every other process of the account shares (docs/fanout.md, "API use").
 * A call goes ahead only when the call `perSecond` calls before it ended at
 * least a second ago: whenever a call reaches the server, the last
 * `perSecond` before it all arrived more than a second earlier, so no
 * second, wherever it starts, sees more however late a busy process sends
 * (a token bucket would let a burst and its refill land in one second).
 */
import type { Clock } from "../../clock.js";

interface Call {
  /** When it ended; undefined while it is under way. */
  end?: number;
  ended: Promise<void>;
  finish(): void;
}

export class RateBudget {
  /** The last `perSecond` calls, oldest first. */
  private readonly recent: Call[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  /** Calls made through the budget, for the benchmark and verbose output. */
  calls = 0;

  constructor(
    private readonly perSecond: number,
    private readonly clock: Clock,
  ) {}

  /** Makes the call when its turn comes; calls keep their order. */
  call<T>(work: () => Promise<T>): Promise<T> {
    const turn = this.queue.then(() => this.turn());
    this.queue = turn;
    return turn.then((call) => this.run(call, work));
  }

  /** Makes the call now if the budget has room, else undefined: for work that may wait for the next round. */
  tryCall<T>(work: () => Promise<T>): Promise<T> | undefined {
    if (this.waitMs() !== 0) return undefined;
    return this.run(this.spend(), work);
  }

  private async turn(): Promise<Call> {
    for (let wait = this.waitMs(); wait !== 0; wait = this.waitMs()) {
      if (wait === undefined) await this.recent[0]!.ended;
      else await this.clock.sleep(wait);
    }
    return this.spend();
  }

  /** 0 when a call may go now; else how long to wait, or undefined while the call it waits for is still under way. */
  private waitMs(): number | undefined {
    if (this.recent.length < this.perSecond) return 0;
    const end = this.recent[0]!.end;
    return end === undefined ? undefined : Math.max(0, end + 1000 - this.clock.now());
  }

  private spend(): Call {
    let finish = () => {};
    const call: Call = { ended: new Promise<void>((r) => (finish = r)), finish: () => finish() };
    this.recent.push(call);
    if (this.recent.length > this.perSecond) this.recent.shift();
    this.calls++;
    return call;
  }

  private async run<T>(call: Call, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } finally {
      call.end = this.clock.now();
      call.finish();
    }
  }
}

/** A client whose every call waits for the budget. */
export function budgeted<C extends { send(command: never): Promise<unknown> }>(client: C, budget: RateBudget): C {
  return { send: (command: never) => budget.call(() => client.send(command)) } as unknown as C;
}
