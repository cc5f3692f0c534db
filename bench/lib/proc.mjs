// Child processes with wall time and peak RSS.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const GNU_TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;
let seq = 0;

/**
 * Runs a command to completion. Peak RSS comes from GNU time's rusage
 * (the kernel's own high-water mark) when /usr/bin/time exists, else from
 * polling /proc/<pid>/status VmHWM.
 */
export async function run(cmd, args, opts = {}) {
  const rssFile = join(tmpdir(), `nbatch-bench-rss-${process.pid}-${++seq}`);
  const wrap = opts.rss && GNU_TIME;
  const [file, argv] = wrap ? [GNU_TIME, ["-f", "%M", "-o", rssFile, cmd, ...args]] : [cmd, args];
  const start = performance.now();
  const startEpoch = Date.now();
  const child = spawn(file, argv, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let polledPeak = 0;
  const poll =
    opts.rss && !wrap
      ? setInterval(() => {
          readFile(`/proc/${child.pid}/status`, "utf8")
            .then((s) => (polledPeak = Math.max(polledPeak, Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0))))
            .catch(() => undefined);
        }, 20)
      : undefined;
  lines(child.stdout, (line) => {
    if (opts.keepOutput !== false) stdout += line + "\n";
    opts.onStdoutLine?.(line, performance.now());
  });
  lines(child.stderr, (line) => {
    stderr += line + "\n";
    opts.onStderrLine?.(line, performance.now());
  });
  opts.onSpawn?.(child);
  const timer = opts.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs) : undefined;
  const code = await new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (c) => resolve(c));
  });
  const wallMs = performance.now() - start;
  clearTimeout(timer);
  if (poll) clearInterval(poll);
  let peakRssKB = polledPeak || undefined;
  if (wrap) {
    const text = await readFile(rssFile, "utf8").catch(() => "");
    // GNU time prints "Command exited with non-zero status N" before the value.
    peakRssKB = Number(text.trim().split("\n").pop()) || undefined;
    await rm(rssFile, { force: true });
  }
  return { code, wallMs, start, startEpoch, peakRssKB, stdout, stderr };
}

function lines(stream, onLine) {
  let partial = "";
  stream.setEncoding("utf8");
  stream.on("data", (d) => {
    const parts = (partial + d).split("\n");
    partial = parts.pop();
    for (const p of parts) onLine(p);
  });
  stream.on("end", () => partial && onLine(partial));
}

export function median(values) {
  const v = values.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return undefined;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/**
 * Waits out the 2 s within which nbatch does not keep a file's hash (tree/hashes.ts):
 * `cp -al` moves every linked file's ctime, which a user's directory, written
 * long before the run, would not have had.
 */
export const settle = () => new Promise((r) => setTimeout(r, 2100));
