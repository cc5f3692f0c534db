/**
 * `nbatch build --array N | --each PATTERN` on this machine: the same task
 * list, agent and results rule as on AWS Batch, each task's agent a process
 * of its own in its own directory, at most one per core (or
 * --array-parallel) at a time, each task's results applied as it ends.
 */
import { spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { availableParallelism, totalmem } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { toLocalJob } from "../job/control.js";
import { ResultsHome } from "../job/fanout/results.js";
import { checkFollowed, planTasks, taskName } from "../job/fanout/tasks.js";
import { closeRun, FAILED_TAIL_LINES, FanoutView, type FailedTask } from "../job/fanout/view.js";
import { checkWorkdir, excludedLines, scanInputs, warnLeftOut } from "../job/pack.js";
import { definedOnly, resourceEnv } from "../job/resources.js";
import type { BuildRequest } from "../job/request.js";
import { agentOptions, ARRAY_INDEX_ENV, INDEX_TOKEN, JOB_ENV, PROTOCOL_VERSION, type Task } from "../protocol.js";
import { newRunId } from "../runid.js";
import { createSelector } from "../tree/patterns.js";
import { withTempDir } from "../tree/temp-files.js";
import { formatBytes, plural, shellQuote } from "../ui/format.js";
import type { LocalDeps } from "./local.js";
import { writeInputs } from "./local-inputs.js";

export async function runLocalFanout(req: BuildRequest, deps: LocalDeps): Promise<number> {
  const { out, clock } = deps;
  const inputs = await scanInputs(req.dir, req.excludeFromUpload);
  warnLeftOut(inputs, (line) => out.warn(line));
  checkWorkdir(inputs, req.workdir);
  const tasks = planTasks(req.fanout!, inputs.manifest.entries, req.dir);
  checkFollowed(req.fanout!.follow, tasks);
  const lanes = Math.min(req.fanout!.parallel ?? availableParallelism(), tasks.length);
  const what = `${plural(tasks.length, "task")} of ${req.command.map(shellQuote).join(" ")} over ${req.dir} (${plural(inputs.manifest.files, "file")}, ${formatBytes(inputs.manifest.bytes)}), ${lanes} at a time`;
  if (req.dryRun) {
    for (const line of excludedLines(inputs)) out.info(line);
    out.info(`Would run ${what}${req.workdir ? `, in ${req.workdir}` : ""}`);
    return 0;
  }
  return withTempDir("local", async (tmp) => {
    const url = (...parts: string[]) => pathToFileURL(join(tmp, ...parts)).href;
    const runId = newRunId(clock.now());
    // Every task's agent assembles the same tree.
    const tree = await writeInputs(inputs, join(tmp, "inputs"), runId);
    await writeFile(join(tmp, "tasks.json"), JSON.stringify(tasks));
    const jobEnv: Record<string, string> = {
      [JOB_ENV.protocol]: String(PROTOCOL_VERSION),
      [JOB_ENV.runId]: runId,
      [JOB_ENV.inputsUrl]: url(tree),
      // Built as text: a file URL would escape the braces of {index}.
      [JOB_ENV.resultsUrl]: `${url("tasks")}/${INDEX_TOKEN}/results.zip`,
      [JOB_ENV.tasksUrl]: url("tasks.json"),
    };
    if (Object.keys(req.env).length) {
      await writeFile(join(tmp, "env.json"), JSON.stringify(req.env), { mode: 0o600 });
      jobEnv[JOB_ENV.envUrl] = url("env.json");
    }
    const machine = { cpus: availableParallelism(), memoryMiB: Math.floor(totalmem() / 2 ** 20) };
    for (const { name, value } of resourceEnv({ ...machine, ...definedOnly({ cpus: deps.values.cpus, memoryMiB: deps.values.memoryMiB }) })) jobEnv[name] = value;
    out.info(`Running ${what}`);
    const home = req.follow.download
      ? new ResultsHome({ out, values: deps.values }, { runId, dir: req.dir, baseline: inputs.manifest.entries, select: createSelector(req.download, req.excludeFromDownload), resultsOf: (i) => ({ file: join(tmp, "tasks", String(i), "results.zip") }) })
      : undefined;
    const view = new FanoutView(out, clock, tasks.length);
    const status = tasks.map(() => "PENDING");
    const counts = () => status.reduce<Record<string, number>>((c, s) => ((c[s] = (c[s] ?? 0) + 1), c), {});
    const failed: FailedTask[] = [];
    const started = clock.now();
    let stopping = false;
    const onStop = () => void (stopping = true);
    deps.signals.on("SIGINT", onStop);
    deps.signals.on("SIGTERM", onStop);
    let next = 0;
    const lane = async () => {
      for (let position = next++; position < tasks.length; position = next++) {
        const task = tasks[position]!;
        if (stopping) {
          [status[position], failed[failed.length]] = ["FAILED", { task, ran: false }];
          continue;
        }
        status[position] = "RUNNING";
        view.update(counts(), home?.tally.applied ?? 0);
        await mkdir(join(tmp, "tasks", String(task.index)), { recursive: true });
        const work = join(tmp, "work", String(task.index));
        await mkdir(work, { recursive: true });
        const ended = await runTask(task, [...deps.self, "agent", ...agentOptions(req), "--", ...req.command], work, { ...deps.env, ...jobEnv, [ARRAY_INDEX_ENV]: String(position) }, deps, req.fanout!.follow.includes(task.index));
        status[position] = ended.code === 0 ? "SUCCEEDED" : "FAILED";
        if (ended.code !== 0) {
          failed.push({ task, exitCode: ended.code ?? undefined, ran: true });
          out.warn(`${taskName(task).replace(/^t/, "T")} FAILED (${ended.code === null ? `killed by ${ended.signal}` : `exited ${ended.code}`})`);
          for (const line of ended.last) out.emit({ type: "log", jobId: `local:${task.index}`, attempt: 1, timestamp: line.at, message: line.text, index: task.index });
        }
        home?.add(task);
        view.update(counts(), home?.tally.applied ?? 0);
      }
    };
    try {
      await Promise.all(Array.from({ length: lanes }, lane));
      await home?.done();
    } finally {
      deps.signals.off("SIGINT", onStop);
      deps.signals.off("SIGTERM", onStop);
      if (out.stderrIsTTY) out.progress("");
    }
    const code = closeRun(out, { total: tasks.length, failed, tally: home?.tally, took: clock.now() - started });
    return stopping ? 130 : code;
  });
}

interface TaskEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Its last lines, shown when it fails. */
  last: { at: number; text: string }[];
}

/** One task's agent, as a job would run it: its output kept to its last lines, or shown live when followed. */
function runTask(task: Task, command: string[], cwd: string, env: NodeJS.ProcessEnv, deps: LocalDeps, followed: boolean): Promise<TaskEnd> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    const last: TaskEnd["last"] = [];
    const take = (text: string) => {
      const line = { at: Date.now(), text };
      if (followed) deps.out.emit({ type: "log", jobId: `local:${task.index}`, attempt: 1, timestamp: line.at, message: text, index: task.index });
      last.push(line);
      if (last.length > FAILED_TAIL_LINES) last.shift();
    };
    for (const stream of [child.stdout!, child.stderr!]) {
      let partial = "";
      stream.setEncoding("utf8").on("data", (d: string) => {
        const lines = (partial + d).split("\n");
        partial = lines.pop()!;
        lines.forEach(take);
      });
      stream.on("end", () => partial && take(partial));
    }
    const forwarding = toLocalJob(deps.signals, child, deps.out.stdinIsTTY);
    child.once("error", (err) => (forwarding.dispose(), reject(err)));
    child.once("close", (code, signal) => (forwarding.dispose(), resolve({ code, signal, last })));
  });
}
