import { spawn, type ChildProcess } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeEach } from "vitest";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** The installed entry point; it runs the built dist/, so e2e runs need `npm run build` first. */
export const nbatchBin = join(repoRoot, "bin", "nbatch.js");

/**
 * CLI processes still running, each with whether a test started it. A test's
 * failed assertion must not leave its CLI running, but vitest's global
 * onTestFinished attaches to whichever test started last, the wrong one when a
 * file's tests run concurrently. So a leftover of a test is killed once no test
 * of the file is running (its own has ended then, whichever it was), and every
 * leftover, also one a hook started, once the file is done.
 */
const running = new Map<ChildProcess, { startedInTest: boolean }>();
let testsUnderWay = 0;
beforeEach(() => void testsUnderWay++);
afterEach(() => (--testsUnderWay === 0 ? killLeftovers((p) => p.startedInTest) : undefined));
afterAll(() => killLeftovers(() => true));

// Waits for the exit, not for "close": a job's process may hold the output pipes open after nbatch is gone.
async function killLeftovers(which: (p: { startedInTest: boolean }) => boolean): Promise<void> {
  const leftovers = [...running].filter(([, p]) => which(p)).map(([child]) => child);
  await Promise.all(leftovers.map((child) => new Promise((resolve) => (child.once("exit", resolve), child.kill("SIGKILL")))));
}

export interface CliOptions {
  /** The whole environment of the CLI, apart from PATH (inherited unless given). */
  env: Record<string, string>;
  cwd?: string;
  /** Written to stdin; without it stdin is /dev/null. */
  input?: string;
  /** The run is killed and fails after this long (default 50 s, under the e2e test timeout). */
  timeoutMs?: number;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export type CliProcess = ChildProcess & {
  /** Settles when the process has exited and its output is complete. */
  result: Promise<CliResult>;
  /** Resolves once stdout or stderr so far matches; rejects if the process ends first. */
  waitForOutput(pattern: string | RegExp, timeoutMs?: number): Promise<void>;
};

/** Runs `nbatch args...` to completion. */
export function runCli(args: string[], opts: CliOptions): Promise<CliResult> {
  return spawnCli(args, opts).result;
}

/** Starts `nbatch args...` for tests that signal it or watch its output while it runs. */
export function spawnCli(args: string[], opts: CliOptions): CliProcess {
  const child = spawn(process.execPath, [nbatchBin, ...args], {
    cwd: opts.cwd ?? repoRoot,
    // A clean environment: nothing of the developer's AWS_* or NBATCH_* leaks in.
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...opts.env },
    stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  let stdout = "";
  let stderr = "";
  let closed = false;
  const listeners = new Set<() => void>();
  const changed = () => listeners.forEach((l) => l());
  child.stdout!.setEncoding("utf8").on("data", (d: string) => ((stdout += d), changed()));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => ((stderr += d), changed()));

  const timeoutMs = opts.timeoutMs ?? 50_000;
  const result = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`nbatch ${args.join(" ")} still running after ${timeoutMs} ms\n${outputTail(stdout, stderr)}`));
    }, timeoutMs);
    child.once("error", (err) => (clearTimeout(timer), reject(err)));
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      closed = true;
      changed();
      resolve({ code, signal, stdout, stderr });
    });
  });
  running.set(child, { startedInTest: testsUnderWay > 0 });
  child.once("exit", () => running.delete(child));
  child.once("error", () => running.delete(child));

  const waitForOutput = (pattern: string | RegExp, waitMs = timeoutMs) =>
    new Promise<void>((resolve, reject) => {
      const matches = (s: string) => (typeof pattern === "string" ? s.includes(pattern) : pattern.test(s));
      const done = (err?: Error) => {
        listeners.delete(check);
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const check = () => {
        if (matches(stdout) || matches(stderr)) return done();
        if (closed) {
          done(new Error(`nbatch exited before printing ${pattern}\n${outputTail(stdout, stderr)}`));
        }
      };
      const timer = setTimeout(() => done(new Error(`no ${pattern} within ${waitMs} ms\n${outputTail(stdout, stderr)}`)), waitMs);
      listeners.add(check);
      check();
    });

  return Object.assign(child, { result, waitForOutput });
}

export interface TestEnvOptions {
  moto: string;
  /** The test Batch executor's endpoint; Batch calls go there, everything else to moto. */
  executor?: string;
  home: string;
}

/** The environment of a CLI run against the local servers, with HOME and XDG dirs under home. */
export function testEnv(o: TestEnvOptions): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_REGION: "us-east-1",
    AWS_ENDPOINT_URL: o.moto,
    ...(o.executor ? { AWS_ENDPOINT_URL_BATCH: o.executor } : {}),
    AWS_EC2_METADATA_DISABLED: "true",
    HOME: o.home,
    XDG_CONFIG_HOME: join(o.home, ".config"),
    XDG_STATE_HOME: join(o.home, ".local", "state"),
    NBATCH_POLL_INTERVAL: "0.2",
  };
}

function outputTail(stdout: string, stderr: string): string {
  return `--- stdout\n${stdout.slice(-4000)}\n--- stderr\n${stderr.slice(-4000)}`;
}
