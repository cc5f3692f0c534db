import { spawn } from "node:child_process";
import { constants } from "node:os";
import type { LogShipper } from "./executor-logs.js";
import type { Watchdog } from "./executor-watchdog.js";

/** What one attempt's "container" runs: the command, in its own empty directory. */
export interface ContainerSpec {
  command: string[];
  env: Record<string, string>;
  cwd: string;
  /** Run as this user instead of the test's own (a job definition's `user`; needs root). */
  user?: { uid: number; gid: number };
  logs: LogShipper;
  watchdog: Pick<Watchdog, "watch" | "unwatch">;
  /** Called once the command is running; never for a container that cannot start. */
  onStart(): void;
}

/** How an attempt ended: an exit code, or the reason the container never started. */
export interface AttemptOutcome {
  exitCode?: number;
  cannotStart?: string;
}

export interface RunningContainer {
  readonly outcome: Promise<AttemptOutcome>;
  /** docker stop: SIGTERM to the command, SIGKILL to everything after the grace period. */
  stop(graceMs: number): void;
  /** Kills every process of the container at once. */
  kill(): void;
}

/**
 * Runs the command as a process group standing in for a container: signals
 * go to the main process as docker sends them, and when it exits the whole
 * group is killed, as a container's teardown would.
 */
export function startContainer(spec: ContainerSpec): RunningContainer {
  const [file, ...args] = spec.command;
  if (file === undefined || file === "") {
    // An image without CMD and a job without a command: docker refuses to create it.
    const outcome = spec.logs.close().then(() => ({ cannotStart: "CannotStartContainerError: no command specified" }));
    return { outcome, stop() {}, kill() {} };
  }
  const child = spawn(file, args, {
    cwd: spec.cwd,
    env: spec.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
    ...spec.user,
  });
  let killTimer: NodeJS.Timeout | undefined;
  const killGroup = () => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // The group is already empty.
    }
  };

  const outcome = new Promise<AttemptOutcome>((resolve) => {
    child.on("error", (err: NodeJS.ErrnoException) => {
      if (child.pid !== undefined) return;
      void spec.logs.close().then(() => resolve({ cannotStart: cannotStartReason(file, err) }));
    });
    if (child.pid === undefined) return;
    spec.watchdog.watch(child.pid);
    child.once("spawn", () => spec.onStart());
    spec.logs.follow(child.stdout!);
    spec.logs.follow(child.stderr!);
    let exitCode = 0;
    child.once("exit", (code, signal) => {
      exitCode = code ?? 128 + (signal ? constants.signals[signal] : 0);
      killGroup();
    });
    child.once("close", () => {
      clearTimeout(killTimer);
      spec.watchdog.unwatch(child.pid!);
      void spec.logs.close().then(() => resolve({ exitCode }));
    });
  });

  return {
    outcome,
    stop(graceMs) {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      killTimer ??= setTimeout(killGroup, graceMs);
    },
    kill: killGroup,
  };
}

function cannotStartReason(file: string, err: NodeJS.ErrnoException): string {
  const why = err.code === "ENOENT" ? "executable file not found in $PATH" : (err.code ?? err.message);
  return (
    "CannotStartContainerError: Error response from daemon: failed to create task for container: " +
    `OCI runtime create failed: runc create failed: unable to start container process: exec: "${file}": ${why}: unknown`
  );
}
