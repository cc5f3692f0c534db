import { DescribeJobsCommand } from "@aws-sdk/client-batch";
import { DescribeLogGroupsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { HeadBucketCommand } from "@aws-sdk/client-s3";
import { GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { MiddlewareStack } from "@smithy/types";
import { afterAll, afterEach, beforeAll, expect, it, vi } from "vitest";
import { createAwsClients, type AwsClients } from "../../src/aws/clients.js";
import { sdkError } from "../../src/aws/errors.js";

// What the factory promises: a request unanswered for 5 minutes fails, and the SDK makes 5 attempts in all.
const REQUEST_TIMEOUT_MS = 300_000;
const ATTEMPTS = 5;

/** A server that takes every request and never answers it. */
let server: Server;
let endpoint: string;
const received: IncomingMessage[] = [];
const sockets = new Set<Socket>();
let onRequest: (() => void) | undefined;

beforeAll(async () => {
  server = createServer((req) => (received.push(req), onRequest?.()));
  server.on("connection", (s) => (sockets.add(s), s.once("close", () => sockets.delete(s))));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server.close(resolve));
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

/** Resolves once the server has received `n` requests in all: real sockets, so real waiting. */
function requestsReceived(n: number): Promise<void> {
  return new Promise((resolve) => {
    onRequest = () => received.length >= n && resolve();
    onRequest();
  });
}

const calls: Record<keyof Omit<AwsClients, "destroy">, (c: AwsClients) => Promise<unknown>> = {
  s3: (c) => c.s3.send(new HeadBucketCommand({ Bucket: "nbatch-silent" })),
  batch: (c) => c.batch.send(new DescribeJobsCommand({ jobs: ["job-1"] })),
  logs: (c) => c.logs.send(new DescribeLogGroupsCommand({})),
  sts: (c) => c.sts.send(new GetCallerIdentityCommand({})),
};

/** When each attempt went out and ended, on the fake clock: just around the HTTP handler, inside the SDK's retries. */
function timeAttempts(client: { middlewareStack: MiddlewareStack<any, any> }): { start: number; end?: number }[] {
  const attempts: { start: number; end?: number }[] = [];
  client.middlewareStack.add(
    (next) => async (args) => {
      const attempt: { start: number; end?: number } = { start: Date.now() };
      attempts.push(attempt);
      try {
        return await next(args);
      } finally {
        attempt.end = Date.now();
      }
    },
    { step: "deserialize", name: "timeAttempts" },
  );
  return attempts;
}

// The real timeout is five minutes, so time is the fake clock's; the requests and the sockets are real.
it.for(Object.keys(calls) as (keyof typeof calls)[])("a %s request that gets no answer fails with a TimeoutError after 5 minutes, each of 5 attempts", async (service) => {
  vi.stubEnv("AWS_ACCESS_KEY_ID", "test");
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", "test");
  vi.stubEnv("AWS_SESSION_TOKEN", undefined);
  vi.stubEnv("AWS_PROFILE", undefined);
  const clients = createAwsClients({ region: "us-east-1", endpoints: { s3: endpoint, batch: endpoint, logs: endpoint, sts: endpoint } });
  const attempts = timeAttempts(clients[service]);
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  const before = received.length;
  const outcome = calls[service](clients).then(
    () => new Error("the request was answered"),
    (err: unknown) => err,
  );
  try {
    for (let n = 1; n <= ATTEMPTS; n++) {
      await requestsReceived(before + n);
      await vi.advanceTimersByTimeAsync(REQUEST_TIMEOUT_MS);
      // The backoff before the next attempt is then the one timer left.
      if (n < ATTEMPTS) await vi.advanceTimersToNextTimerAsync();
    }
    // The client explains the failure to the user; the SDK's TimeoutError is under it.
    const err = (await outcome) as Error;
    expect(err.message).toMatch(new RegExp(`^cannot reach ${endpoint}: TimeoutError`));
    const timeout = sdkError(err) as Error;
    expect(timeout.name).toBe("TimeoutError");
    expect(timeout.message).toContain(`${REQUEST_TIMEOUT_MS} ms requestTimeout`);
    expect(attempts.map((a) => a.end! - a.start)).toEqual(Array(ATTEMPTS).fill(REQUEST_TIMEOUT_MS));
    expect(received.length).toBe(before + ATTEMPTS);
  } finally {
    clients.destroy();
  }
});
