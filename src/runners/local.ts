import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { UsageError } from "../errors.js";
import { JOB_ENV } from "../protocol.js";
import { newRunId } from "../runid.js";
import type { IO } from "../ui/io.js";
import { createReporter } from "../ui/reporter.js";
import { formatBytes, plural } from "../ui/format.js";
import { createSelector } from "../tree/patterns.js";
import { withTempDir } from "../tree/temp-files.js";
import { packInputs, scanInputs, warnLeftOut } from "../job/pack.js";
import type { BuildRequest } from "../job/request.js";
import { applyResults, exitWithRefusals, readResults } from "../job/apply.js";

export interface LocalDeps {
  io: IO;
  env: Readonly<Record<string, string | undefined>>;
  signals: NodeJS.EventEmitter;
  maxResultsBytes: number;
}

const AGENT = [process.execPath, fileURLToPath(new URL("../../bin/nbatch.js", import.meta.url)), "agent"];

/**
 * The embedded default: the same pack, agent, results and unpack path as on
 * AWS Batch, with a temporary directory standing in for S3 and the job, so a
 * user sees exactly what would be uploaded, run and brought back.
 */
export async function runLocal(req: BuildRequest, deps: LocalDeps): Promise<number> {
  if (!req.command.length) throw new UsageError("the local runner needs a command: nbatch build <dir> -- <command>");
  const { io } = deps;
  return withTempDir("local", async (tmp) => {
    const inputs = await scanInputs(req.dir, req.excludeFromUpload);
    warnLeftOut(inputs, (line) => io.warn(line));
    io.info(`Packing ${req.dir} (${plural(inputs.manifest.files, "file")}, ${formatBytes(inputs.manifest.bytes)}) into ${tmp}`);
    const url = (name: string) => pathToFileURL(join(tmp, name)).href;
    await pipeline(packInputs(inputs), createWriteStream(join(tmp, "inputs.zip")));
    const runId = newRunId();
    const jobEnv: Record<string, string> = { [JOB_ENV.runId]: runId, [JOB_ENV.inputsUrl]: url("inputs.zip"), [JOB_ENV.resultsUrl]: url("results.zip") };
    if (Object.keys(req.env).length) {
      await writeFile(join(tmp, "env.json"), JSON.stringify(req.env), { mode: 0o600 });
      jobEnv[JOB_ENV.envUrl] = url("env.json");
    }
    const work = join(tmp, "work");
    await mkdir(work);
    io.info(`Running ${req.command.join(" ")} in ${work}`);
    await runAgentProcess([...AGENT, "--", ...req.command], work, { ...deps.env, ...jobEnv }, deps);
    if (!req.follow.download) {
      io.info("Results not applied (--no-download)");
      return (await readResults(join(tmp, "results.zip"))).exitCode ?? 1;
    }
    const { results, report } = await applyResults({
      archivePath: join(tmp, "results.zip"),
      dir: req.dir,
      runId,
      baseline: inputs.manifest.entries,
      select: createSelector(req.download, req.excludeFromDownload),
      reporter: createReporter(io, false),
      maxBytes: deps.maxResultsBytes,
    });
    return exitWithRefusals(results.exitCode ?? 1, report.refused.length > 0);
  });
}

/**
 * Runs the agent as its own process, as a job would, and waits for it to
 * upload its results rather than dying first. A terminal's Ctrl-C reaches
 * it directly (same process group), so only signals sent to us alone are
 * passed on: SIGTERM, and SIGINT when stdin is not a terminal.
 */
function runAgentProcess(command: string[], cwd: string, env: NodeJS.ProcessEnv, deps: LocalDeps): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { cwd, env, stdio: "inherit" });
    const forward = (sig: NodeJS.Signals) => void (sig === "SIGINT" && deps.io.stdinIsTTY ? undefined : child.kill(sig));
    const signals = ["SIGTERM", "SIGINT"] as const;
    for (const sig of signals) deps.signals.on(sig, forward);
    const done = () => signals.forEach((sig) => deps.signals.off(sig, forward));
    child.once("error", (err) => (done(), reject(err)));
    child.once("exit", () => (done(), resolve()));
  });
}
