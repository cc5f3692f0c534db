// npm run bench [-- --quick] [-- --scale N] [-- --runs N] [-- --only GROUP] [-- --sweep]
//
// Generates the reference directory and the other kinds of data, starts
// moto (S3), an S3 that keeps no bytes (for the multi-gigabyte runs) and a
// scripted fake of Batch and CloudWatch Logs, measures nbatch side by side
// with the alternatives, prints markdown tables of targets, and writes
// bench/results.json. See docs/performance.md.
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { referenceDir } from "./lib/data.mjs";
import { startFakeAws } from "./lib/fake-aws.mjs";
import { compressedDir, sequenceDir, tinyDir } from "./lib/kinds.mjs";
import { measureApply } from "./lib/measure-apply.mjs";
import { measureCrc } from "./lib/measure-crc.mjs";
import { measureFanout } from "./lib/measure-fanout.mjs";
import { measureKinds } from "./lib/measure-kinds.mjs";
import { measureLogs } from "./lib/measure-logs.mjs";
import { measureMemory } from "./lib/measure-memory.mjs";
import { measureScales } from "./lib/measure-scale.mjs";
import { measureStartup } from "./lib/measure-startup.mjs";
import { measureIncremental } from "./lib/measure-incremental.mjs";
import { measureLink, measureUpload } from "./lib/measure-upload.mjs";
import { startMoto } from "./lib/moto.mjs";
import { startSinkS3 } from "./lib/sink-s3.mjs";
import { run } from "./lib/proc.mjs";
import { startCountingProxy } from "./lib/proxy.mjs";
import { renderSweep, sweep } from "./lib/sweep.mjs";
import { renderTable, targets } from "./lib/targets.mjs";
import { s3Client } from "./worker/common.mjs";

const benchDir = dirname(fileURLToPath(import.meta.url));
const repo = dirname(benchDir);

const GROUPS = ["startup", "upload", "incremental", "kinds", "memory", "scale", "apply", "logs", "fanout"];
// An office uplink (about 250 Mbit/s), where compressing harder pays.
const LINK_BYTES_PER_SECOND = 30 * 1024 * 1024;

function parseArgs(argv) {
  const o = { quick: false, scale: 1, runs: undefined, sweep: false, only: GROUPS };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--quick") o.quick = true;
    else if (a === "--sweep") o.sweep = true;
    else if (a === "--scale") o.scale = Number(argv[++i]);
    else if (a === "--runs") o.runs = Number(argv[++i]);
    else if (a === "--only") o.only = String(argv[++i]).split(",");
    else throw new Error(`unknown argument ${a}: use --quick, --scale N, --runs N, --only ${GROUPS.join(",")}, --sweep`);
  }
  if (!(o.scale > 0)) throw new Error("--scale takes a positive number");
  const unknown = o.only.filter((g) => !GROUPS.includes(g));
  if (unknown.length) throw new Error(`unknown group ${unknown.join(",")}: use ${GROUPS.join(", ")}`);
  if (o.quick) o.scale = Math.min(o.scale, 0.05);
  o.runs ??= o.quick ? 1 : 3;
  return o;
}

// The bench's own SDK clients (not nbatch's: its runs get a clean environment) would print the SDK's Node 20 notice.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
const opts = parseArgs(process.argv.slice(2));
const log = (msg) => process.stderr.write(`${msg}\n`);
const t0 = performance.now();

const dataRoot = join(benchDir, "data");
await mkdir(dataRoot, { recursive: true });
const dir = await referenceDir(dataRoot, opts.scale, log);
const bigDir = await referenceDir(dataRoot, opts.scale * 4, log);
// Incremental inputs are measured at 16x as well (not in quick mode): made only when that group runs.
const hugeFactor = 16;
const hugeDir = opts.only.includes("incremental") && !opts.sweep && !opts.quick ? await referenceDir(dataRoot, opts.scale * hugeFactor, log) : undefined;

const work = await mkdtemp(join(tmpdir(), "nbatch-bench-"));
const home = join(work, "home");
await mkdir(home);
// Log-tailing runs upload this one-file directory, so only the tailing is measured.
const tiny = join(work, "tiny");
await mkdir(tiny);
await writeFile(join(tiny, "README"), "a directory for the log-tailing runs\n");
log("starting moto, the sink S3 and the fake Batch/Logs server ...");
const moto = await startMoto();
const sink = await startSinkS3();
const fake = await startFakeAws();
const proxy = await startCountingProxy(moto.endpoint);
const s3 = s3Client(moto.endpoint);
const bucket = `nbatch-bench-${Date.now()}`;
await s3.send(new CreateBucketCommand({ Bucket: bucket }));

const workerEnv = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" };
const ctx = {
  repo,
  benchDir,
  bin: join(repo, "bin", "nbatch.js"),
  work,
  dataRoot,
  dirs: { reference: dir, big: bigDir, tiny },
  moto,
  fake,
  proxy,
  s3,
  bucket,
  log,
  workerEnv,
  env: ({ prefix, s3: s3Endpoint, pollInterval } = {}) => ({
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_STATE_HOME: join(home, ".local", "state"),
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_REGION: "us-east-1",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_ENDPOINT_URL_S3: s3Endpoint ?? moto.endpoint,
    AWS_ENDPOINT_URL_BATCH: fake.endpoint,
    AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: fake.endpoint,
    NBATCH_AWS_BATCH_S3_BUCKET: `s3://${bucket}/${prefix ?? "bench"}`,
    NO_COLOR: "1",
    ...(pollInterval ? { NBATCH_POLL_INTERVAL: String(pollInterval) } : {}),
  }),
  /** Runs bench/worker/<name> and returns its JSON answer. */
  async worker(name, args, env = workerEnv) {
    const r = await run(process.execPath, [join(benchDir, "worker", name), ...args], { env });
    if (r.code !== 0) throw new Error(`worker ${name} failed (${r.code}): ${r.stderr.slice(-2000)}`);
    return JSON.parse(r.stdout.trim().split("\n").pop());
  },
};

const results = {
  date: new Date().toISOString(),
  machine: { cpus: availableParallelism(), model: cpus()[0]?.model, node: process.version },
  options: opts,
};
try {
  if (opts.sweep) {
    log("sweep: deflate level, part size and concurrency, ranged GETs ...");
    results.sweep = await sweep(ctx, { dir, runs: opts.runs });
  } else {
    const only = new Set(opts.only);
    results.groupSeconds = {};
    let groupStart = performance.now();
    const timed = (group) => {
      results.groupSeconds[group] = (performance.now() - groupStart) / 1000;
      groupStart = performance.now();
    };
    if (only.has("startup")) {
      log("start-up ...");
      results.startup = await measureStartup(ctx, { runs: opts.quick ? 3 : 15 });
      timed("startup");
    }
    if (only.has("upload")) {
      log("pack+upload ...");
      results.upload = await measureUpload(ctx, { dir, bigDir, runs: opts.runs, quick: opts.quick });
      // Quick sees the slower link in the kinds group only.
      if (!opts.quick) {
        log("pack+upload over a slower link ...");
        results.link = await measureLink(ctx, { dir, runs: opts.runs, bytesPerSecond: LINK_BYTES_PER_SECOND });
      }
      timed("upload");
    }
    if (only.has("kinds")) {
      log("pack+upload by kind of data ...");
      // Quick runs a twentieth of each kind: enough to show the runs work.
      const kindScale = opts.quick ? 0.02 : opts.scale;
      const kinds = [
        { name: "reference", dir: opts.quick ? undefined : dir },
        { name: "sequences", dir: await sequenceDir(dataRoot, kindScale, log) },
        { name: "compressed", dir: opts.quick ? undefined : await compressedDir(dataRoot, kindScale, log) },
        { name: "tiny", dir: await tinyDir(dataRoot, kindScale, log) },
      ].filter((k) => k.dir);
      results.kinds = await measureKinds(ctx, { kinds, runs: opts.runs, bytesPerSecond: LINK_BYTES_PER_SECOND });
      results.crc = measureCrc({ quick: opts.quick });
      timed("kinds");
    }
    if (only.has("memory")) {
      log("peak memory by size of data ...");
      results.memory = await measureMemory(ctx, { quick: opts.quick, sink });
      timed("memory");
    }
    if (only.has("scale")) {
      log("cost against size ...");
      const scales = opts.quick ? [0.02, 0.05] : [1, 4, 16].map((x) => x * opts.scale);
      results.scale = await measureScales(ctx, { scales, linkedCopiesOf: opts.quick ? undefined : { scale: scales[2], copies: 5 }, sink, runs: opts.quick ? 1 : 3 });
      timed("scale");
    }
    if (only.has("incremental")) {
      log("incremental inputs ...");
      results.incremental = await measureIncremental(ctx, { reference: dir, big: hugeDir, factor: hugeFactor, scale: opts.scale, runs: opts.runs });
      timed("incremental");
    }
    if (only.has("apply")) {
      log("applying results ...");
      results.apply = await measureApply(ctx, { scale: opts.scale, runs: opts.runs });
      timed("apply");
    }
    if (only.has("logs")) {
      log("log tailing ...");
      results.logs = await measureLogs(ctx, { quick: opts.quick });
      timed("logs");
    }
    if (only.has("fanout")) {
      log("fan-out ...");
      results.fanout = await measureFanout(ctx, { quick: opts.quick });
      timed("fanout");
    }
    results.targets = targets(results);
  }
} finally {
  s3.destroy();
  await proxy.stop();
  await sink.stop();
  await fake.stop();
  await moto.stop();
  await rm(work, { recursive: true, force: true });
}
results.totalSeconds = (performance.now() - t0) / 1000;
// The sweep and the target run each keep the other's last answer.
const resultsFile = join(benchDir, "results.json");
const previous = await readFile(resultsFile, "utf8").then(JSON.parse, () => ({}));
const merged = opts.sweep ? { ...previous, sweep: { ...results, sweep: undefined, ...results.sweep } } : { ...results, ...(previous.sweep ? { sweep: previous.sweep } : {}) };
await writeFile(resultsFile, JSON.stringify(merged, null, 2) + "\n");
process.stdout.write(opts.sweep ? renderSweep(results.sweep) : renderTable(results));
log(`done in ${results.totalSeconds.toFixed(0)} s; details in bench/results.json`);
// --quick only proves the bench runs: its small data cannot show the targets.
if (!opts.quick && results.targets?.some((t) => t.pass === false)) process.exitCode = 1;
