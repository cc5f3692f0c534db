import { spawn } from "node:child_process";
import { mkdir, stat, writeFile } from "node:fs/promises";
import { availableParallelism, constants, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { UsageError, UserError } from "../errors.js";
import { toLocalJob } from "../job/control.js";
import { agentOptions, JOB_ENV, PROTOCOL_VERSION } from "../protocol.js";
import { newRunId } from "../runid.js";
import type { CommandContext } from "../commands/context.js";
import { formatBytes, plural, shellQuote, shownCommand } from "../ui/format.js";
import { stagesLine } from "../ui/timings.js";
import { displayPath } from "../config/file.js";
import { projectFilePath } from "../config/project.js";
import { createSelector } from "../tree/patterns.js";
import { withTempDir } from "../tree/temp-files.js";
import { checkWorkdir, excludedLines, scanInputs, warnLeftOut } from "../job/pack.js";
import { writeInputs } from "./local-inputs.js";
import type { BuildRequest } from "../job/request.js";
import { definedOnly, resourceEnv } from "../job/resources.js";
import { applyResults, exitWithRefusals, readResults, resultLimits } from "../job/apply.js";
import type { SettingValues } from "../config/table.js";

export interface LocalDeps extends CommandContext {
  /** The limits on results, and the vCPUs and memory asked for (the command is told the machine's otherwise). */
  values: SettingValues;
}

const SOURCE = "the job's results archive";

/**
 * The embedded default: the same pack, agent, results and unpack path as on
 * AWS Batch, with a temporary directory standing in for S3 and the job, so a
 * user sees exactly what would be uploaded, run and brought back.
 */
export async function runLocal(req: BuildRequest, deps: LocalDeps): Promise<number> {
  if (!req.command.length) {
    const file = displayPath(projectFilePath(req.dir), deps.env);
    throw new UsageError(`no command to run: give it after -- (nbatch build ${shellQuote(displayPath(req.dir, deps.env))} -- make), or put "command = make" under [build] in ${file}`);
  }
  if (req.fanout) return (await import("./local-fanout.js")).runLocalFanout(req, deps);
  const { out } = deps;
  const inputs = await scanInputs(req.dir, req.excludeFromUpload);
  warnLeftOut(inputs, (line) => out.warn(line));
  checkWorkdir(inputs, req.workdir);
  const size = `${plural(inputs.manifest.files, "file")}, ${formatBytes(inputs.manifest.bytes)}`;
  if (req.dryRun) {
    out.info(`Would pack ${req.dir} (${size})`);
    for (const line of excludedLines(inputs)) out.info(line);
    out.info(`Would run ${shownCommand(req.command)} on a copy of it${req.workdir ? `, in ${req.workdir}` : ""}`);
    return 0;
  }
  return withTempDir("local", async (tmp) => {
    out.info(`Packing ${req.dir} (${size}) into ${tmp}`);
    for (const line of excludedLines(inputs)) out.detail(line);
    const url = (name: string) => pathToFileURL(join(tmp, name)).href;
    const { clock } = deps;
    const packing = clock.now();
    const runId = newRunId(clock.now());
    const tree = await writeInputs(inputs, join(tmp, "inputs"), runId);
    const packMs = clock.now() - packing;
    const jobEnv: Record<string, string> = {
      [JOB_ENV.protocol]: String(PROTOCOL_VERSION),
      [JOB_ENV.runId]: runId,
      [JOB_ENV.inputsUrl]: url(tree),
      [JOB_ENV.resultsUrl]: url("results.zip"),
    };
    const machine = { cpus: availableParallelism(), memoryMiB: Math.floor(totalmem() / 2 ** 20) };
    for (const { name, value } of resourceEnv({ ...machine, ...definedOnly({ cpus: deps.values.cpus, memoryMiB: deps.values.memoryMiB }) })) jobEnv[name] = value;
    if (Object.keys(req.env).length) {
      await writeFile(join(tmp, "env.json"), JSON.stringify(req.env), { mode: 0o600 });
      jobEnv[JOB_ENV.envUrl] = url("env.json");
    }
    const work = join(tmp, "work");
    await mkdir(work);
    out.info(`Running ${shownCommand(req.command)} in ${req.workdir ? join(work, req.workdir) : work}`);
    const running = clock.now();
    const agent = await runAgentProcess([...deps.self, "agent", ...agentOptions(req), "--", ...req.command], work, { ...deps.env, ...jobEnv }, deps);
    const runMs = clock.now() - running;
    if (!(await exists(join(tmp, "results.zip")))) {
      // The agent says why on its own stderr; this says what it means for the directory.
      const how = agent.signal ? `killed by ${agent.signal}` : `exit ${agent.code}`;
      const exitCode = agent.signal ? 128 + (constants.signals[agent.signal] ?? 0) : agent.code || 1;
      throw new UserError(`the job ended (${how}) without results: nothing in ${req.dir} was changed`, { exitCode });
    }
    if (!req.follow.download) {
      out.info("Results not applied (--no-download)");
      return (await readResults(join(tmp, "results.zip"), SOURCE, runId, resultLimits(deps.values))).exitCode ?? 1;
    }
    const unpacking = clock.now();
    if (!(await exists(req.dir))) throw new UserError(`${req.dir} was removed while the command ran: there is nowhere to bring its results back to`);
    const { results, report } = await applyResults({
      archivePath: join(tmp, "results.zip"),
      source: SOURCE,
      dir: req.dir,
      runId,
      baseline: inputs.manifest.entries,
      select: createSelector(req.download, req.excludeFromDownload),
      out,
      limits: resultLimits(deps.values),
    });
    const took = stagesLine([["pack", packMs], ["run", runMs], ["unpack", clock.now() - unpacking]]);
    if (took) out.detail(took);
    return exitWithRefusals(results.exitCode ?? 1, report.refused.length > 0);
  }).catch(outOfSpace);
}

/** The copy lives in the system's temporary directory: a full one is the user's to fix, not a bug. */
function outOfSpace(err: NodeJS.ErrnoException): never {
  if (err.code !== "ENOSPC" && err.code !== "EDQUOT") throw err;
  throw new UserError(`no space left in ${tmpdir()} for the copy the command runs on: free some, or point TMPDIR at a larger disk`, { cause: err });
}

/** The agent as its own process, as a job would run it, under the local runner's signal policy. */
function runAgentProcess(command: string[], cwd: string, env: NodeJS.ProcessEnv, deps: LocalDeps): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { cwd, env, stdio: "inherit" });
    const forwarding = toLocalJob(deps.signals, child, deps.out.stdinIsTTY);
    child.once("error", (err) => (forwarding.dispose(), reject(err)));
    child.once("exit", (code, signal) => (forwarding.dispose(), resolve({ code, signal })));
  });
}

const exists = (path: string) => stat(path).then(() => true, () => false);
