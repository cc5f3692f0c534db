import { GetLogEventsCommand, type CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import type { Clock } from "../clock.js";
import { backoffMs, isTransient } from "../aws/retry.js";

export type Logs = Pick<CloudWatchLogsClient, "send">;

export interface LogEvent {
  timestamp: number;
  message: string;
}

export interface TailOptions {
  logs: Logs;
  group: string;
  stream: string;
  clock: Clock;
  /** Interval while lines flow; it doubles while idle, up to maxIntervalMs (for follow and drain). */
  minIntervalMs?: number;
  maxIntervalMs?: number;
  onEvent(event: LogEvent): void;
  /** Called when a fetch fails transiently (throttling, network) and will be retried. */
  onTrouble?(err: unknown): void;
  random?: () => number;
}

/** Consecutive empty fetches after the job stopped before the log is deemed complete. */
const DRAIN_EMPTY_FETCHES = 2;
const DRAIN_MAX_FETCHES = 20;

/**
 * Follows one log stream with GetLogEvents and its forward token. Holds only
 * the token, so memory stays flat however long the job runs; a failed fetch
 * is repeated with the same token, so no line is lost or printed twice.
 */
export class LogTail {
  private token: string | undefined;
  /** Whether the stream has been seen to exist: a stream that never does is worth a word. */
  found = false;

  constructor(private readonly o: TailOptions) {}

  /**
   * Fetches what is available now and returns how many events it printed. A
   * stream that does not exist yet is "not yet": 0 events. Stops after the
   * first page with events, so a busy stream costs one call per interval.
   */
  async fetch(): Promise<number> {
    for (;;) {
      let page;
      try {
        page = await this.o.logs.send(
          new GetLogEventsCommand({
            logGroupName: this.o.group,
            logStreamName: this.o.stream,
            startFromHead: true,
            nextToken: this.token,
          }),
        );
      } catch (err) {
        if ((err as Error).name === "ResourceNotFoundException") return 0;
        throw err;
      }
      this.found = true;
      const events = page.events ?? [];
      for (const e of events) this.o.onEvent({ timestamp: e.timestamp ?? 0, message: (e.message ?? "").replace(/\r?\n$/, "") });
      const next = page.nextForwardToken;
      const atEnd = !next || next === this.token;
      this.token = next ?? this.token;
      if (atEnd || events.length > 0) return events.length;
    }
  }

  /** What CloudWatch holds now, from the first line (or the last token) to the end. */
  async readToEnd(): Promise<void> {
    while ((await this.fetch()) > 0);
  }

  /** Fetches until stop aborts: fast while lines flow, backing off while idle or throttled. */
  async follow(stop: AbortSignal): Promise<void> {
    const { minIntervalMs = 0, maxIntervalMs = 0 } = this.o;
    let interval = minIntervalMs;
    let failures = 0;
    while (!stop.aborted) {
      try {
        const n = await this.fetch();
        failures = 0;
        interval = n > 0 ? minIntervalMs : Math.min(maxIntervalMs, interval * 2);
      } catch (err) {
        if (!isTransient(err)) throw err;
        this.o.onTrouble?.(err);
        interval = backoffMs(++failures, minIntervalMs, maxIntervalMs * 3, this.o.random);
      }
      await this.o.clock.sleep(interval, stop);
    }
  }

  /** After the job stopped: CloudWatch may still be ingesting its last lines. */
  async drain(): Promise<void> {
    const { minIntervalMs = 0, maxIntervalMs = 0 } = this.o;
    let empty = 0;
    let failures = 0;
    for (let i = 0; i < DRAIN_MAX_FETCHES && empty < DRAIN_EMPTY_FETCHES; i++) {
      try {
        empty = (await this.fetch()) > 0 ? 0 : empty + 1;
      } catch (err) {
        if (!isTransient(err)) throw err;
        this.o.onTrouble?.(err);
        await this.o.clock.sleep(backoffMs(++failures, minIntervalMs, maxIntervalMs, this.o.random));
        continue;
      }
      if (empty < DRAIN_EMPTY_FETCHES) await this.o.clock.sleep(minIntervalMs);
    }
  }
}
