import {
  CloudWatchLogsClient,
  GetLogEventsCommand,
  ResourceNotFoundException,
  ThrottlingException,
  type GetLogEventsCommandInput,
  type GetLogEventsCommandOutput,
} from "@aws-sdk/client-cloudwatch-logs";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { backoffMs } from "../../src/aws/retry.js";
import { LogTail, type LogEvent, type TailOptions } from "../../src/job/tail.js";
import { createFakeClock } from "../support/clock.js";

const logsMock = mockClient(CloudWatchLogsClient);
afterEach(() => logsMock.reset());

const GROUP = "/aws/batch/job";
const STREAM = "nbatch-job/default/0123abcd";
const T0 = Date.UTC(2025, 0, 1);

/**
 * One CloudWatch log stream as GetLogEvents serves it: pages of at most
 * pageSize events from the position in the forward token, and the same token
 * back once there is nothing new. Events are made on demand, so a stream of
 * any length costs the test no memory.
 */
class FakeStream {
  size = 0;
  exists = true;
  pageSize = 10;
  /** The nextToken of every call, in order. */
  readonly tokens: (string | undefined)[] = [];
  /** Thrown by the next calls, one each, before anything is read. */
  readonly failures: Error[] = [];
  /** Runs before each call is answered (e.g. to append lines or stop a follow). */
  onCall: (call: number) => void = () => undefined;

  constructor() {
    logsMock.on(GetLogEventsCommand).callsFake((input: GetLogEventsCommandInput) => this.answer(input));
  }

  append(n: number): void {
    this.size += n;
  }

  private answer(input: GetLogEventsCommandInput): Partial<GetLogEventsCommandOutput> {
    expect(input).toMatchObject({ logGroupName: GROUP, logStreamName: STREAM, startFromHead: true });
    this.tokens.push(input.nextToken);
    // A tail that loops without sleeping would otherwise hang the test run instead of failing it.
    if (this.tokens.length > 1000) throw new Error("runaway tail: over 1000 GetLogEvents calls");
    this.onCall(this.tokens.length);
    const failure = this.failures.shift();
    if (failure) throw failure;
    if (!this.exists) throw new ResourceNotFoundException({ message: "The specified log stream does not exist.", $metadata: {} });
    const from = input.nextToken === undefined ? 0 : Number(/^f\/(\d+)$/.exec(input.nextToken)![1]);
    const to = Math.min(this.size, from + this.pageSize);
    const events = Array.from({ length: to - from }, (_, i) => ({ timestamp: T0 + from + i, message: `line ${from + i + 1}\n`, ingestionTime: T0 }));
    return { events, nextForwardToken: `f/${to}`, nextBackwardToken: `b/${from}` };
  }
}

const lines = (n: number, from = 1) => Array.from({ length: n }, (_, i) => `line ${from + i}`);

const throttled = () => new ThrottlingException({ message: "Rate exceeded", $metadata: { httpStatusCode: 400 } });

function tailOf(o: Partial<TailOptions> = {}) {
  const seen: LogEvent[] = [];
  const trouble: unknown[] = [];
  const clock = createFakeClock(T0, { autoAdvance: true });
  const tail = new LogTail({
    logs: new CloudWatchLogsClient({ region: "us-east-1" }),
    group: GROUP,
    stream: STREAM,
    clock,
    minIntervalMs: 200,
    maxIntervalMs: 2000,
    onEvent: (e) => seen.push(e),
    onTrouble: (err) => trouble.push(err),
    ...o,
  });
  return { tail, seen, trouble, clock, messages: () => seen.map((e) => e.message) };
}

describe("LogTail.fetch", () => {
  it("pages through the stream with the forward token, one page with events per fetch", async () => {
    const s = new FakeStream();
    s.append(25);
    const { tail, seen, messages } = tailOf();
    expect(await tail.fetch()).toBe(10);
    expect(await tail.fetch()).toBe(10);
    expect(await tail.fetch()).toBe(5);
    expect(await tail.fetch()).toBe(0);
    expect(s.tokens).toEqual([undefined, "f/10", "f/20", "f/25"]);
    // The trailing newline CloudWatch keeps is not printed; timestamps are the events'.
    expect(messages()).toEqual(lines(25));
    expect(seen[24]!.timestamp).toBe(T0 + 24);
  });

  it("carries on from where it stopped when more lines arrive", async () => {
    const s = new FakeStream();
    s.append(3);
    const { tail, messages } = tailOf();
    expect(await tail.fetch()).toBe(3);
    expect(await tail.fetch()).toBe(0);
    s.append(2);
    expect(await tail.fetch()).toBe(2);
    expect(messages()).toEqual(lines(5));
    expect(s.tokens).toEqual([undefined, "f/3", "f/3"]);
  });

  it("treats a stream that does not exist yet as empty, and reads it from the start once it does", async () => {
    const s = new FakeStream();
    s.exists = false;
    const { tail, messages } = tailOf();
    expect(await tail.fetch()).toBe(0);
    expect(await tail.fetch()).toBe(0);
    s.exists = true;
    s.append(4);
    expect(await tail.fetch()).toBe(4);
    expect(messages()).toEqual(lines(4));
    expect(s.tokens).toEqual([undefined, undefined, undefined]);
  });

  it("passes on other errors", async () => {
    const s = new FakeStream();
    s.failures.push(Object.assign(new Error("User is not authorized to perform logs:GetLogEvents"), { name: "AccessDeniedException" }));
    await expect(tailOf().tail.fetch()).rejects.toThrow(/not authorized/);
  });
});

describe("LogTail.follow", () => {
  it("polls at the minimum interval while lines flow and doubles it up to the maximum while idle", async () => {
    const s = new FakeStream();
    const stop = new AbortController();
    // Lines on calls 1-3, idle for 6 calls, lines again on call 10, then idle.
    s.onCall = (call) => {
      if (call <= 3 || call === 10) s.append(1);
      if (call === 12) stop.abort();
    };
    const { tail, clock, messages } = tailOf();
    await tail.follow(stop.signal);
    expect(clock.sleeps).toEqual([200, 200, 200, 400, 800, 1600, 2000, 2000, 2000, 200, 400, 800]);
    expect(messages()).toEqual(lines(4));
  });

  it("backs off with jitter on throttling, then continues with the same token: no line lost or repeated", async () => {
    const s = new FakeStream();
    s.append(30);
    const stop = new AbortController();
    s.onCall = (call) => {
      if (call === 2 || call === 7) s.failures.push(throttled(), throttled());
      if (call === 10) stop.abort();
    };
    const random = () => 0.9;
    const { tail, clock, messages, trouble } = tailOf({ random });
    await tail.follow(stop.signal);
    expect(messages()).toEqual(lines(30));
    // Calls 2-4 all ask from line 11: the failed fetches did not move the token.
    expect(s.tokens.slice(0, 6)).toEqual([undefined, "f/10", "f/10", "f/10", "f/20", "f/30"]);
    expect(trouble).toHaveLength(4);
    const [first, second] = [backoffMs(1, 200, 6000, random), backoffMs(2, 200, 6000, random)];
    expect([first, second]).toEqual([360, 720]);
    // A success in between starts the next backoff from the beginning again.
    expect(clock.sleeps.slice(0, 9)).toEqual([200, first, second, 200, 200, 400, first, second, 2 * second]);
  });

  it("spreads the backoff randomly (full jitter), within the growing ceiling", async () => {
    const waits: number[][] = [];
    for (const r of [0, 0.5, 1]) {
      const s = new FakeStream();
      const stop = new AbortController();
      s.failures.push(throttled(), throttled(), throttled());
      s.onCall = (call) => call === 3 && stop.abort();
      const { tail, clock } = tailOf({ random: () => r });
      await tail.follow(stop.signal);
      waits.push(clock.sleeps);
    }
    expect(waits).toEqual([
      [200, 200, 200], // never below the minimum
      [200, 400, 800],
      [400, 800, 1600],
    ]);
  });

  it("stops with the error when it is not transient", async () => {
    const s = new FakeStream();
    s.append(1);
    s.onCall = (call) => call === 2 && s.failures.push(Object.assign(new Error("denied"), { name: "AccessDeniedException" }));
    const { tail, trouble } = tailOf();
    await expect(tail.follow(new AbortController().signal)).rejects.toThrow("denied");
    expect(trouble).toEqual([]);
  });

  it("waits for a stream that does not exist yet, then prints it from its first line", async () => {
    const s = new FakeStream();
    s.exists = false;
    const stop = new AbortController();
    s.onCall = (call) => {
      if (call === 3) {
        s.exists = true;
        s.append(12);
      }
      if (call === 6) stop.abort();
    };
    const { tail, messages, trouble } = tailOf();
    await tail.follow(stop.signal);
    expect(messages()).toEqual(lines(12));
    expect(trouble).toEqual([]);
  });

  it("keeps no events, only its token, however many it tails", async () => {
    const s = new FakeStream();
    s.pageSize = 10_000;
    s.append(100_000);
    const stop = new AbortController();
    let count = 0;
    let last = "";
    const { tail } = tailOf({
      onEvent: (e) => {
        count++;
        last = e.message;
      },
    });
    const options = { ...(tail as unknown as { o: TailOptions }).o };
    s.onCall = (call) => call === 12 && stop.abort();
    await tail.follow(stop.signal);
    expect(count).toBe(100_000);
    expect(last).toBe("line 100000");
    // Its own state is the token and flags, no collection, and its options are as given: nothing grew.
    const own = Object.entries(tail).filter(([key]) => key !== "o");
    expect(own).toContainEqual(["token", "f/100000"]);
    for (const [key, value] of own) expect([key, typeof value]).not.toEqual([key, "object"]);
    expect((tail as unknown as { o: TailOptions }).o).toEqual(options);
  });
});

describe("LogTail.drain", () => {
  it("fetches until two fetches in a row bring nothing, so late lines are still printed", async () => {
    const s = new FakeStream();
    s.append(3);
    // CloudWatch is still ingesting: two more lines show up after an empty fetch.
    s.onCall = (call) => call === 3 && s.append(2);
    const { tail, clock, messages } = tailOf();
    await tail.drain();
    expect(messages()).toEqual(lines(5));
    expect(s.tokens).toEqual([undefined, "f/3", "f/3", "f/5", "f/5"]);
    expect(clock.sleeps).toEqual([200, 200, 200, 200]);
  });

  it("gives up after a bounded number of fetches on a stream that never goes quiet", async () => {
    const s = new FakeStream();
    // Lines keep coming (for far longer than drain may take).
    s.onCall = (call) => call <= 100 && s.append(1);
    const { tail, messages } = tailOf();
    await tail.drain();
    expect(s.tokens).toHaveLength(20);
    expect(messages()).toEqual(lines(20));
  });

  it("retries a throttled fetch with the same token", async () => {
    const s = new FakeStream();
    s.append(15);
    s.onCall = (call) => call === 2 && s.failures.push(throttled());
    const random = () => 0.9;
    const { tail, messages, trouble, clock } = tailOf({ random });
    await tail.drain();
    expect(messages()).toEqual(lines(15));
    expect(s.tokens).toEqual([undefined, "f/10", "f/10", "f/15", "f/15"]);
    expect(trouble).toHaveLength(1);
    expect(clock.sleeps).toEqual([200, backoffMs(1, 200, 2000, random), 200, 200]);
    expect(clock.sleeps[1]).toBe(360);
  });
});
