import { removeTree } from "../../src/tree/temp-files.js";
import type { CreateComputeEnvironmentRequest, JobDetail, JobStateTimeLimitAction, JQState, RegisterJobDefinitionRequest } from "@aws-sdk/client-batch";
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { chmod, chown, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { batchOperations } from "./executor-api.js";
import { JobRunner, mainContainer } from "./executor-jobs.js";
import { ClientException, Registry } from "./executor-registry.js";
import { startWatchdog } from "./executor-watchdog.js";

export interface BatchExecutorOptions {
  motoEndpoint: string;
  region?: string;
  /** Time spent in each of SUBMITTED, PENDING, RUNNABLE and STARTING. */
  stepDelayMs?: number;
  /** Time in RUNNABLE before each attempt starts (default stepDelayMs), as on a queue without capacity. */
  runnableDelayMs?: number;
  /** Between TerminateJob's SIGTERM and the SIGKILL of the job's processes. */
  killGraceMs?: number;
  /** Absolute path of bin/nbatch.js, which jobs find on PATH as `nbatch`. */
  nbatchBin: string;
}

export type Job = JobDetail;

export interface BatchExecutor {
  endpoint: string;
  /** Every API call received, in order, with its JSON body. */
  requests: { operation: string; body: any }[];
  /** The jobs as DescribeJobs would report them. */
  jobs(): Job[];
  /**
   * The environment each attempt's container was started with (`all`), and the
   * part of it that is the image's and the job role's rather than the job's (`image`).
   */
  containerEnv(jobId: string, attempt?: number): { image: Record<string, string>; all: Record<string, string> } | undefined;
  /** Drops a finished job, as Batch does some days after it ends. */
  forget(jobId: string): void;
  /** Setup helpers that bypass HTTP, so they never show up in `requests`. */
  createComputeEnvironment(input: CreateComputeEnvironmentRequest): Promise<string>;
  /** computeEnvironments: names of compute environments, in order. */
  createQueue(name: string, opts?: { state?: JQState; computeEnvironments?: string[]; schedulingPolicyArn?: string; jobStateTimeLimitActions?: JobStateTimeLimitAction[] }): Promise<void>;
  /** Ends a running job's attempt as a spot reclaim: SIGTERM, the grace period, SIGKILL, "Host EC2 (instance …) terminated.". */
  reclaim(jobId: string): void;
  /** Ends a running job's attempt as an out-of-memory kill: SIGKILL, exit 137, "OutOfMemoryError: …". */
  outOfMemory(jobId: string): void;
  /** Keeps the queue's jobs RUNNABLE with this statusReason; undefined lets them go. */
  holdRunnable(queue: string, statusReason: string | undefined): void;
  registerJobDefinition(input: RegisterJobDefinitionRequest): Promise<string>;
  /** Kills any running job processes, closes the server and removes every temporary directory. */
  stop(): Promise<void>;
}

/**
 * A stand-in for the Batch scheduler: answers the Batch REST API and runs
 * each job as a local process whose output goes to moto's CloudWatch Logs.
 */
export async function startBatchExecutor(opts: BatchExecutorOptions): Promise<BatchExecutor> {
  const region = opts.region ?? "us-east-1";
  const root = await mkdtemp(join(tmpdir(), "nbatch-executor-"));
  // Jobs that run as another user (a job definition's `user`) must reach the nbatch on PATH.
  await chmod(root, 0o755);
  const watchdog = startWatchdog(root);
  const binDir = join(root, "bin");
  await mkdir(binDir);
  await writeFile(join(binDir, "nbatch"), `#!/bin/sh\nexec ${shQuote(process.execPath)} ${shQuote(opts.nbatchBin)} "$@"\n`, {
    mode: 0o755,
  });

  const logs = new CloudWatchLogsClient({
    region,
    endpoint: opts.motoEndpoint,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  const registry = new Registry(region);
  const containerEnvs = new Map<string, { image: Record<string, string>; all: Record<string, string> }>();
  const runner = new JobRunner({
    stepDelayMs: opts.stepDelayMs ?? 30,
    runnableDelayMs: opts.runnableDelayMs,
    killGraceMs: opts.killGraceMs ?? 2000,
    logs,
    watchdog,
    async prepare(job, attempt) {
      const dir = await mkdtemp(join(root, "job-"));
      const [cwd, home, tmp] = ["work", "home", "tmp"].map((d) => join(dir, d)) as [string, string, string];
      await Promise.all([cwd, home, tmp].map((d) => mkdir(d)));
      // A job definition's user (a non-root image) owns the job's directories, as the image's would.
      const container = mainContainer(job);
      const user = container.user ? await lookupUser(container.user) : undefined;
      if (user) await Promise.all([dir, cwd, home, tmp].map((d) => chown(d, user.uid, user.gid)));
      const image: Record<string, string> = {
        PATH: `${binDir}:${process.env.PATH ?? "/usr/bin:/bin"}`,
        HOME: home,
        TMPDIR: tmp,
        AWS_ACCESS_KEY_ID: "job-role",
        AWS_SECRET_ACCESS_KEY: "job-role-secret",
        AWS_REGION: region,
        AWS_ENDPOINT_URL: opts.motoEndpoint,
      };
      const env = { ...image };
      for (const { name, value } of container.environment ?? []) env[name!] = value ?? "";
      env.AWS_BATCH_JOB_ID = job.jobId!;
      env.AWS_BATCH_JOB_ATTEMPT = String(attempt);
      // "At runtime, the AWS_BATCH_JOB_ARRAY_INDEX environment variable is set to the container's corresponding job array index number" (AWS Batch user guide, "Array jobs").
      if (job.arrayProperties?.index !== undefined) env.AWS_BATCH_JOB_ARRAY_INDEX = String(job.arrayProperties.index);
      env.AWS_BATCH_JQ_NAME = job.jobQueue!.replace(/^.*\//, "");
      containerEnvs.set(`${job.jobId}:${attempt}`, { image, all: env });
      return { cwd, env, user };
    },
  });
  const operations = batchOperations(registry, runner);
  const requests: BatchExecutor["requests"] = [];

  const server = createServer((req, res) => void handle(req, res));
  async function handle(req: IncomingMessage, res: ServerResponse) {
    let body: any = {};
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const text = Buffer.concat(chunks).toString("utf8");
      body = text ? JSON.parse(text) : {};
      const [operation, handler] = operations[/^\/v1\/([a-z]+)$/.exec(req.url ?? "")?.[1] ?? ""] ?? [];
      requests.push({ operation: operation ?? `${req.method} ${req.url}`, body });
      if (!handler) throw new ClientException(`${req.method} ${req.url} is not an operation the test executor supports`);
      reply(res, 200, handler(body));
    } catch (err) {
      const type = err instanceof ClientException || err instanceof SyntaxError ? "ClientException" : "ServerException";
      if (type === "ServerException") console.error("test executor:", err);
      reply(res, type === "ClientException" ? 400 : 500, { __type: type, message: (err as Error).message }, type);
    }
  }
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    jobs: () => [...runner.jobs.keys()].map((id) => structuredClone(runner.view(id)!)),
    containerEnv: (jobId, attempt = 1) => structuredClone(containerEnvs.get(`${jobId}:${attempt}`)),
    forget: (jobId) => void runner.jobs.delete(jobId),
    async createComputeEnvironment(input) {
      return registry.createComputeEnvironment(input).computeEnvironmentArn!;
    },
    async createQueue(name, queueOpts) {
      const computeEnvironmentOrder = queueOpts?.computeEnvironments?.map((computeEnvironment, i) => ({ order: i + 1, computeEnvironment }));
      const { schedulingPolicyArn, jobStateTimeLimitActions } = queueOpts ?? {};
      registry.createQueue({ jobQueueName: name, state: queueOpts?.state, computeEnvironmentOrder, schedulingPolicyArn, jobStateTimeLimitActions });
    },
    reclaim: (jobId) => runner.reclaim(jobId),
    outOfMemory: (jobId) => runner.outOfMemory(jobId),
    holdRunnable: (queue, statusReason) => runner.hold(registry.queue(queue).jobQueueArn!, statusReason),
    async registerJobDefinition(input) {
      return registry.register(input).jobDefinitionArn!;
    },
    async stop() {
      await runner.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      logs.destroy();
      await removeTree(root);
      await watchdog.close();
    },
  };
}

function reply(res: ServerResponse, status: number, body: unknown, errorType?: string): void {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (errorType) headers["x-amzn-ErrorType"] = errorType;
  res.writeHead(status, headers).end(JSON.stringify(body));
}

/** "uid[:gid]" or a name from /etc/passwd, as docker run --user takes it. */
async function lookupUser(spec: string): Promise<{ uid: number; gid: number }> {
  const [name, group] = spec.split(":");
  if (/^\d+$/.test(name!)) return { uid: Number(name), gid: Number(group ?? name) };
  const line = (await readFile("/etc/passwd", "utf8")).split("\n").find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`test executor: no user ${name} in /etc/passwd`);
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(group ?? gid) };
}

function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
