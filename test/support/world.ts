import { removeTree } from "../../src/tree/temp-files.js";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createBucket, uniqueBucketName } from "./aws.js";
import { nbatchBin, runCli, testEnv, type CliOptions } from "./cli.js";
import { startBatchExecutor, type BatchExecutor } from "./executor.js";
import { startFaultProxy, type FaultProxy } from "./fault-proxy.js";
import { motoEndpoint } from "./moto.js";

/**
 * One AWS account in a box for end-to-end tests of `nbatch build`: moto for
 * S3 and CloudWatch Logs, the test executor for Batch, a bucket, a queue, a
 * job definition, and a HOME of its own.
 */
export interface World {
  executor: BatchExecutor;
  bucket: string;
  queue: string;
  job: string;
  home: string;
  /** The CLI's environment: the servers, test credentials, bucket/queue/job settings. */
  env: Record<string, string>;
  /** Makes a directory under the world's temp dir holding the given files. */
  makeDir(name: string, files: TreeFiles): Promise<string>;
  writeConfig(text: string): Promise<string>;
  nbatch(args: string[], opts?: Partial<CliOptions>): ReturnType<typeof runCli>;
  /** The SubmitJob bodies the executor received. */
  submits(): any[];
  /** A fresh gate, for a job that must go on until the test lets it. */
  gate(): Gate;
  /** A fault proxy in front of this world's moto and executor (stopped with the world), and the CLI env that goes through it. */
  proxy(): Promise<{ proxy: FaultProxy; env: Record<string, string> }>;
  stop(): Promise<void>;
}

/** Holds a job at a point until the test opens it: the job waits on a condition, not on a timer being long enough. */
export interface Gate {
  /** A shell command that returns once the gate is open. */
  wait: string;
  open(): Promise<void>;
}

export async function startWorld(opts: { region?: string; stepDelayMs?: number; runnableDelayMs?: number } = {}): Promise<World> {
  const moto = motoEndpoint()!;
  const region = opts.region ?? "us-east-1";
  const executor = await startBatchExecutor({
    motoEndpoint: moto,
    nbatchBin,
    region,
    stepDelayMs: opts.stepDelayMs ?? 20,
    runnableDelayMs: opts.runnableDelayMs,
  });
  const proxies: FaultProxy[] = [];
  let gates = 0;
  const root = await mkdtemp(join(tmpdir(), "nbatch-world-"));
  const home = join(root, "home");
  await mkdir(home);
  const bucket = uniqueBucketName();
  await createBucket(bucket);
  const queue = "nbatch-job-queue";
  const job = "nbatch-job";
  await executor.createQueue(queue);
  await executor.registerJobDefinition({
    jobDefinitionName: job,
    type: "container",
    containerProperties: { image: "nbatch-test", command: ["sh", "-c", "echo default command"] },
  });
  const env = {
    ...testEnv({ moto, executor: executor.endpoint, home }),
    AWS_REGION: region,
    NBATCH_AWS_BATCH_S3_BUCKET: `s3://${bucket}/jobs`,
  };
  return {
    executor,
    bucket,
    queue,
    job,
    home,
    env,
    async makeDir(name, files) {
      const dir = join(root, name);
      await writeTree(dir, files);
      return dir;
    },
    async writeConfig(text) {
      const path = join(home, ".config", "nbatch", "config");
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, text);
      return path;
    },
    nbatch: (args, o = {}) => runCli(args, { ...o, env: o.env ?? env }),
    gate() {
      const path = join(root, `gate-${++gates}`);
      return { wait: `until [ -e '${path}' ]; do sleep 0.05; done`, open: () => writeFile(path, "") };
    },
    submits: () => executor.requests.filter((r) => r.operation === "SubmitJob").map((r) => r.body),
    async proxy() {
      const proxy = await startFaultProxy({ default: moto, batch: executor.endpoint });
      proxies.push(proxy);
      return { proxy, env: { ...env, ...proxy.env() } };
    },
    async stop() {
      await Promise.all(proxies.map((p) => p.stop()));
      await executor.stop();
      await removeTree(root);
    },
  };
}

export type TreeFiles = Record<string, string | { text: string; mode: number }>;

/** Creates dir (and any parents) holding the given files, 0644 unless a mode is given. */
export async function writeTree(dir: string, files: TreeFiles): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    const { text, mode } = typeof content === "string" ? { text: content, mode: 0o644 } : content;
    await writeFile(join(dir, path), text, { mode });
  }
  await mkdir(dir, { recursive: true });
}

/** What a command wrote with `env -0 > path`, less what the shells on the way add (PWD, and maybe SHLVL, _). */
export async function readEnvDump(path: string): Promise<Record<string, string>> {
  const env = Object.fromEntries((await readFile(path, "utf8")).split("\0").filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
  for (const name of ["PWD", "SHLVL", "_", "OLDPWD"]) delete env[name];
  return env;
}
