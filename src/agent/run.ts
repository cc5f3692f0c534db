import { spawn, type ChildProcess } from "node:child_process";
import { constants } from "node:os";
import { realpath, stat } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import { UserError } from "../errors.js";
import { toCommand } from "../job/control.js";
import { BATCH_ATTEMPT_ENV, checkJobProtocol, JOB_ENV, PROTOCOL_VERSION, RESULTS_ENTRY, TASK_ENV, type Results } from "../protocol.js";
import { formatSeconds, shownPath } from "../ui/format.js";
import type { Signals } from "../commands/context.js";
import type { Output } from "../ui/output.js";
import { diffManifests } from "../tree/diff.js";
import type { EntryTable } from "../tree/entry-table.js";
import { scanDirectory, type ManifestEntry, type Skipped } from "../tree/manifest.js";
import { packZip } from "../archive/pack.js";
import { AdaptivePace } from "../archive/zip-pace.js";
import { createExcluder, RESULTS_REINCLUDED } from "../tree/patterns.js";
import { withTempDir } from "../tree/temp-files.js";
import { fetchInputs } from "./inputs.js";
import { endLeftovers, noteLeftovers } from "./leftovers.js";
import { resumeFromResults } from "./resume.js";
import { resolveTask } from "./task.js";
import { LogCopy } from "./log-copy.js";
import type { Store } from "./store.js";

/** Seconds a command has to end after SIGTERM before the agent kills it and uploads (docs/protocol.md). */
export const AGENT_STOP_GRACE_ENV = "NBATCH_AGENT_STOP_GRACE";
const DEFAULT_STOP_GRACE_SECONDS = 15;

export interface AgentOptions {
  command: string[];
  /** The job's working directory: inputs are unpacked here, and the results are what changed here. */
  cwd: string;
  /** Where in cwd the command runs (--workdir), relative to it; cwd itself without one. */
  workdir?: string;
  env: Readonly<Record<string, string | undefined>>;
  store: Store;
  out: Output;
  signals: Signals;
}

/**
 * The job side of the protocol: check it, resolve the task, fetch the inputs, run the command, and
 * upload what it created or changed, whether it succeeded, failed or was
 * stopped. Returns the command's exit status.
 */
export async function runAgent(o: AgentOptions): Promise<number> {
  const need = (name: string) => o.env[name] || fail(`${name} is not set: nbatch agent runs inside a job submitted by nbatch build`);
  checkJobProtocol(o.env[JOB_ENV.protocol]);
  const runId = need(JOB_ENV.runId);
  const inputsUrl = need(JOB_ENV.inputsUrl);
  const started = Date.now();
  let stopSignal: NodeJS.Signals | undefined;
  let child: ReturnType<typeof spawn> | undefined;
  let stopTimer: NodeJS.Timeout | undefined;
  const forwarding = toCommand(o.signals, o.out.stdinIsTTY, () => child, (sig) => {
    stopSignal ??= sig;
    o.out.info(`nbatch agent: received ${sig}${child ? ", passing it to the command" : ""}`);
    if (sig === "SIGTERM" && child && !stopTimer) stopTimer = killAfterGrace(o, child);
  });
  try {
    const { resultsUrl, logUrl, command, env: taskEnv, task } = await resolveTask(o.env, o.store, o.command, need(JOB_ENV.resultsUrl));
    // What the command's processes carry in their environment, and its siblings' do not.
    const marks = [`${JOB_ENV.runId}=${runId}`, ...(task ? [`${TASK_ENV.index}=${task.index}`] : [])];
    const attempt = Number(o.env[BATCH_ATTEMPT_ENV] ?? 1);
    const baseline = await withTempDir("agent", async (tmp) => {
      const unpacked = await fetchInputs(o.store, inputsUrl, o.cwd, join(tmp, "inputs.zip"));
      if (o.env[JOB_ENV.resume] === "1" && attempt > 1) {
        const resumed = await resumeFromResults(o.store, resultsUrl, o.cwd, join(tmp, "results.zip"));
        o.out.info(resumed ? `nbatch agent: attempt ${attempt} resumes from the ${resumed.written} entries the attempt before it left` : `nbatch agent: attempt ${attempt} starts afresh: the attempt before it left no results`);
      }
      return unpacked;
    });
    const envUrl = o.env[JOB_ENV.envUrl];
    const userEnv = await readEnv(o, envUrl);
    // A retry needs the values again: earlier attempts delete them only once the command succeeded.
    // A fan-out task's siblings need them too: the CLI deletes them when the run ends.
    const lastAttempt = !task && attempt >= Number(o.env[JOB_ENV.attempts] ?? 1);
    if (envUrl && lastAttempt) await o.store.remove(envUrl);
    const result: Partial<Results> = {};
    let copy: LogCopy | undefined;
    const runIn = await commandDirectory(o);
    if (stopSignal) result.error = `stopped by ${stopSignal} before the command started`;
    else if (!runIn.ok) result.error = runIn.error;
    else {
      result.timings = { started, commandStarted: Date.now(), finished: 0 };
      const run = await runCommand(o, { cwd: runIn.path, command, env: { ...childEnv(o.env, userEnv), ...taskEnv }, logUrl }, (c) => (child = c));
      Object.assign(result, run.ended);
      copy = run.copy;
      result.timings.commandFinished = Date.now();
      result.leftRunning = await noteLeftovers(o.out, marks);
    }
    if (result.error) o.out.info(`nbatch agent: ${result.error}`);
    if (envUrl && !task && !lastAttempt && result.exitCode === 0) await o.store.remove(envUrl);
    await uploadResults(o, resultsUrl, runId, baseline, { started, ...result, index: task?.index });
    // A job's container ends with its main process, and its leftovers with it; the local runner's job does the same.
    if (result.leftRunning) await endLeftovers(marks);
    if (copy) await keepLogCopy(o, copy, logUrl!, stopSignal !== undefined);
    return result.exitCode ?? 1;
  } finally {
    clearTimeout(stopTimer);
    forwarding.dispose();
  }
}

/**
 * SIGTERM is the container being stopped (a spot reclaim, TerminateJob): ECS
 * sends SIGKILL 30 seconds later unless the definition sets another
 * stopTimeout. A command that has not ended within the grace period is
 * killed, so the agent has the rest of that time to upload what it made.
 */
function killAfterGrace(o: AgentOptions, child: ReturnType<typeof spawn>): NodeJS.Timeout {
  const graceMs = stopGraceMs(o.env);
  const timer = setTimeout(() => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    o.out.info(`nbatch agent: the command did not end within ${formatSeconds(graceMs / 1000)} of SIGTERM; killing it to upload its results while there is time`);
    child.kill("SIGKILL");
  }, graceMs);
  timer.unref();
  return timer;
}

function stopGraceMs(env: Readonly<Record<string, string | undefined>>): number {
  const text = env[AGENT_STOP_GRACE_ENV];
  const seconds = text === undefined || text === "" ? DEFAULT_STOP_GRACE_SECONDS : Number(text);
  return (Number.isFinite(seconds) && seconds >= 0 ? seconds : DEFAULT_STOP_GRACE_SECONDS) * 1000;
}

/** The directory the command runs in: cwd, or a directory of the inputs that is really inside it. */
async function commandDirectory(o: AgentOptions): Promise<{ ok: true; path: string } | { ok: false; error: string }> {
  if (!o.workdir) return { ok: true, path: o.cwd };
  const path = resolve(o.cwd, o.workdir);
  const [root, real] = await Promise.all([realpath(o.cwd), realpath(path).catch(() => undefined)]);
  const inside = real !== undefined && (real === root || real.startsWith(root + sep));
  const isDir = inside && (await stat(real).then((s) => s.isDirectory(), () => false));
  return isDir ? { ok: true, path } : { ok: false, error: `cannot run the command in ${shownPath(o.workdir)}: it is not a directory of the inputs` };
}

function fail(message: string): never {
  throw new UserError(message);
}

/** Reads the object holding --env values; it is deleted as soon as no attempt will need it. */
async function readEnv(o: AgentOptions, url: string | undefined): Promise<Record<string, string>> {
  if (!url) return {};
  const text = await o.store.readText(url);
  if (text === undefined) fail(`environment object ${url} not found: was this job started twice?`);
  return JSON.parse(text) as Record<string, string>;
}

function childEnv(env: AgentOptions["env"], userEnv: Record<string, string>): NodeJS.ProcessEnv {
  const { [JOB_ENV.envUrl]: _hidden, ...rest } = env;
  return { ...rest, ...userEnv };
}

/** Runs the command; with NBATCH_LOG_URL its output is also copied, to be kept once the results are up (log-copy.ts). */
async function runCommand(
  o: AgentOptions,
  run: { cwd: string; command: string[]; env: NodeJS.ProcessEnv; logUrl?: string },
  started: (child: ChildProcess) => void,
): Promise<{ ended: Pick<Results, "exitCode" | "signal" | "error">; copy?: LogCopy }> {
  const copy = run.logUrl ? await LogCopy.create() : undefined;
  const child = spawn(run.command[0]!, run.command.slice(1), { cwd: run.cwd, stdio: copy ? ["inherit", "pipe", "pipe"] : "inherit", env: run.env });
  started(child);
  copy?.tee(child, o.out);
  return { ended: await waitFor(child), copy };
}

/** The log's copy goes up after the results, which matter more when the job is being stopped. */
async function keepLogCopy(o: AgentOptions, copy: LogCopy, url: string, stopping: boolean): Promise<void> {
  try {
    await copy.save((body) => o.store.upload(url, body), stopping ? 200 : 2000);
  } catch (err) {
    o.out.warn(`nbatch agent: could not keep a copy of the log at ${url} (${(err as Error).message}); the job's log has it all`);
  }
}

function waitFor(child: ReturnType<typeof spawn>): Promise<Pick<Results, "exitCode" | "signal" | "error">> {
  return new Promise((resolve) => {
    child.once("error", (err: NodeJS.ErrnoException) =>
      resolve({ exitCode: err.code === "ENOENT" ? 127 : 126, signal: null, error: `cannot run ${child.spawnfile}: ${err.message}` }),
    );
    child.once("exit", (code, signal) =>
      resolve({ exitCode: code ?? 128 + (signal ? signalNumber(signal) : 0), signal, error: signal ? `the command was ended by ${signal}` : undefined }),
    );
  });
}

function signalNumber(sig: NodeJS.Signals): number {
  return constants.signals[sig] ?? 0;
}

/**
 * Uploads every new or changed entry and results.json. Nothing over one
 * path loses the rest: what cannot be taken (unreadable, vanished, changed
 * while packed, a name archives cannot carry) is left out and listed with
 * why, and even an unreadable working directory still sends results.json.
 */
async function uploadResults(o: AgentOptions, url: string, runId: string, baseline: EntryTable, r: Partial<Results> & { started: number }): Promise<void> {
  const skipped: Skipped[] = [];
  let changed: ManifestEntry[] = [];
  let deleted: string[] = [];
  try {
    // Results leave out what uploads leave out by default (.git, caches, secrets), but for what Snakemake's storage fetched.
    const after = await scanDirectory(o.cwd, createExcluder(RESULTS_REINCLUDED), { skipUnreadable: true });
    ({ changed, deleted } = diffManifests(baseline, after.entries));
    skipped.push(...after.skipped);
  } catch (err) {
    skipped.push({ path: ".", reason: `the working directory could not be read (${(err as Error).message})` });
  }
  const results = (): string => {
    const left = new Set(skipped.map((s) => s.path));
    const account: Results = {
      protocol: PROTOCOL_VERSION,
      runId,
      ...(r.index !== undefined ? { index: r.index } : {}),
      exitCode: r.exitCode ?? null,
      signal: r.signal ?? null,
      error: r.error,
      deleted,
      files: changed.filter((e) => !left.has(e.path)),
      ...(skipped.length ? { skipped } : {}),
      ...(r.leftRunning?.length ? { leftRunning: r.leftRunning } : {}),
      timings: { ...r.timings, started: r.started, finished: Date.now() },
    };
    return JSON.stringify(account);
  };
  const pace = new AdaptivePace();
  const body = packZip({
    root: o.cwd,
    entries: changed,
    extra: [{ name: RESULTS_ENTRY, data: results }],
    pace,
    onSkip: (path, reason) => void skipped.push({ path, reason }),
  });
  await o.store.upload(url, body, pace.uploaded);
  for (const s of skipped) o.out.warn(`nbatch agent: left ${shownPath(s.path)} out of the results: ${s.reason}`);
  o.out.detail(`nbatch agent: uploaded the new or changed entries to ${url}`);
}
