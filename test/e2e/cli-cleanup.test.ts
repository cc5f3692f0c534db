import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnCli, type CliProcess } from "../support/cli.js";

/** A promise with its resolve at hand. */
function signal(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * The test helpers' own clean-up. Each CLI here runs `nbatch status` against a
 * Batch endpoint that answers only when the test says, so it runs exactly as
 * long as the test wants and has no child process to outlive a kill.
 */
describe("spawnCli's clean-up when a file's tests overlap", () => {
  /** Each job id's DescribeJobs call: when it arrived, and the answer held back. */
  const held = new Map<string, { arrived: ReturnType<typeof signal>; res?: ServerResponse }>();
  const sockets = new Set<Socket>();
  const server = createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    const call = held.get((JSON.parse(body) as { jobs: string[] }).jobs[0]!)!;
    call.res = res;
    call.arrived.resolve();
  });
  let root: string;
  let env: Record<string, string>;
  let leftover: CliProcess;

  /** Runs `nbatch status` for a new job id and resolves once its DescribeJobs is held. */
  async function heldStatus(): Promise<{ cli: CliProcess; answer(): void }> {
    const jobId = randomUUID();
    held.set(jobId, { arrived: signal() });
    const call = held.get(jobId)!;
    const cli = spawnCli(["status", jobId], { env });
    await call.arrived.promise;
    return { cli, answer: () => void call.res!.writeHead(200, { "content-type": "application/json" }).end('{"jobs":[]}') };
  }

  beforeAll(async () => {
    server.on("connection", (s) => (sockets.add(s), s.once("close", () => sockets.delete(s))));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    root = await mkdtemp(join(tmpdir(), "nbatch-cleanup-"));
    env = {
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_REGION: "us-east-1",
      AWS_ENDPOINT_URL_BATCH: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      AWS_EC2_METADATA_DISABLED: "true",
      HOME: root,
      XDG_STATE_HOME: join(root, "state"),
    };
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
    await rm(root, { recursive: true, force: true });
  });

  describe.concurrent("two tests at once", () => {
    const otherStarted = signal();
    const started = signal();
    const otherFinished = signal();

    it("a CLI started after another test began outlives that test's end", async () => {
      // Started while the other test is the one vitest began last, then kept going until that one has ended.
      await otherStarted.promise;
      const { cli, answer } = await heldStatus();
      started.resolve();
      await otherFinished.promise;
      answer();
      const r = await cli.result;
      expect(r.signal, r.stderr).toBeNull();
      expect(r.stderr).toContain("is not known to Batch");
    });

    it("the other test, which leaves a CLI running", async ({ onTestFinished }) => {
      otherStarted.resolve();
      onTestFinished(() => otherFinished.resolve());
      leftover = (await heldStatus()).cli;
      await started.promise;
    });
  });

  it("kills a leftover once the tests that were running have all ended", () => {
    expect(leftover.signalCode).toBe("SIGKILL");
  });
});
