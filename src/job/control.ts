/**
 * What each signal means, in one place: five policies, one for each time a
 * signal can arrive. Before the job is submitted (beforeSubmission), while
 * it is watched (whileWatching), while its results come home
 * (whileFetching), in the local runner's parent (toLocalJob) and in the
 * agent, around the user's command (toCommand).
 */
import type { ChildProcess } from "node:child_process";
import type { Clock } from "../clock.js";
import type { Signals } from "../commands/context.js";
import type { Output } from "../ui/output.js";

export interface Disposable {
  dispose(): void;
}

/** Subscribes handler to each signal; dispose() unsubscribes them all. */
function listen(signals: Signals, names: readonly NodeJS.Signals[], handler: (sig: NodeJS.Signals) => void): Disposable {
  for (const sig of names) signals.on(sig, handler);
  return { dispose: () => names.forEach((sig) => signals.off(sig, handler)) };
}

/**
 * Until the job exists, Ctrl-C, SIGTERM and a hangup (terminal closed, SSH
 * dropped) abandon everything cleanly: the signal aborts the upload, whose
 * multipart upload is then aborted, and nothing is submitted.
 */
export function beforeSubmission(signals: Signals): Disposable & { signal: AbortSignal } {
  return abortingOn(signals);
}

/**
 * Once the job has ended, Ctrl-C, SIGTERM and a hangup stop bringing its
 * results home: the transfer stops, what was fetched of the archive is
 * removed, files already written stay whole, and the results wait in S3
 * for `--attach`. The signal's name is the abort reason.
 */
export function whileFetching(signals: Signals): Disposable & { signal: AbortSignal } {
  return abortingOn(signals);
}

function abortingOn(signals: Signals): Disposable & { signal: AbortSignal } {
  const interrupt = new AbortController();
  const listening = listen(signals, ["SIGINT", "SIGTERM", "SIGHUP"], (sig) => interrupt.abort(sig));
  return { signal: interrupt.signal, dispose: listening.dispose };
}

/**
 * The local runner's agent runs as its own process, as a job would, and is
 * waited for so it can upload its results rather than dying first. A
 * terminal's Ctrl-C reaches it directly (same process group), so only
 * signals sent to nbatch alone are passed on: SIGTERM, and SIGINT when stdin
 * is not a terminal.
 */
export function toLocalJob(signals: Signals, child: ChildProcess, stdinIsTTY: boolean): Disposable {
  return listen(signals, ["SIGTERM", "SIGINT"], (sig) => void (sig === "SIGINT" && stdinIsTTY ? undefined : child.kill(sig)));
}

/**
 * In the agent: SIGTERM (Batch stopping the job, a spot reclaim), SIGINT and
 * SIGHUP go on to the command, which then ends as it sees fit while the
 * agent waits to upload what it made. The first one is remembered. On a
 * terminal, Ctrl-C already reaches the command: passing it on would make two.
 */
export function toCommand(signals: Signals, stdinIsTTY: boolean, child: () => ChildProcess | undefined, heard: (sig: NodeJS.Signals) => void): Disposable {
  return listen(signals, ["SIGTERM", "SIGINT", "SIGHUP"], (sig) => {
    heard(sig);
    if (!(sig === "SIGINT" && stdinIsTTY)) child()?.kill(sig);
  });
}

/** What the user asked for with a signal while a job is watched. */
export type ControlAction = "detach" | "cancel" | "exit";

export interface WatchControl {
  signals: Signals;
  out: Output;
  clock: Clock;
  detachOnInterrupt: boolean;
  jobId: string;
  onAction(action: ControlAction, signal: NodeJS.Signals): void;
}

/** On a terminal, a second Ctrl-C within this window cancels the job. */
const CONFIRM_WINDOW_MS = 10_000;

/**
 * Signals once a job is submitted. A lone Ctrl-C on a terminal is often a
 * slip, so it takes two within 10 s to cancel; in a script (stdin not a
 * terminal) one Ctrl-C or SIGTERM cancels, so CI cancellation never leaves an
 * orphaned job. Ctrl-Z and SIGHUP detach. Once cancelling, one more Ctrl-C
 * exits at once.
 */
export function whileWatching(o: WatchControl): Disposable {
  let firstInterruptAt: number | undefined;
  let cancelling = false;
  const act = (action: ControlAction, sig: NodeJS.Signals) => {
    if (action === "cancel") cancelling = true;
    o.onAction(action, sig);
  };
  const onInterrupt = (sig: NodeJS.Signals) => {
    if (cancelling) return act("exit", sig);
    if (o.detachOnInterrupt && sig === "SIGINT") return act("detach", sig);
    const now = o.clock.now();
    const confirmed = firstInterruptAt !== undefined && now - firstInterruptAt <= CONFIRM_WINDOW_MS;
    if (sig === "SIGINT" && o.out.stdinIsTTY && !confirmed) {
      firstInterruptAt = now;
      o.out.info(`Press Ctrl-C again within ${CONFIRM_WINDOW_MS / 1000} seconds to cancel job ${o.jobId}, or Ctrl-Z to detach from it`);
      return;
    }
    act("cancel", sig);
  };
  const onDetach = (sig: NodeJS.Signals) => act("detach", sig);
  const listening = [listen(o.signals, ["SIGINT", "SIGTERM"], onInterrupt), listen(o.signals, ["SIGTSTP", "SIGHUP"], onDetach)];
  o.out.info(
    o.detachOnInterrupt
      ? "Ctrl-C, Ctrl-Z or SIGHUP detaches (the job keeps running); SIGTERM cancels the job"
      : o.out.stdinIsTTY
        ? "Press Ctrl-C twice to cancel the job; Ctrl-Z detaches (the job keeps running)"
        : "SIGINT or SIGTERM cancels the job; SIGHUP or SIGTSTP detaches (the job keeps running)",
  );
  return { dispose: () => listening.forEach((l) => l.dispose()) };
}

/** A watch under the user's control: what they asked for so far, and a signal that ends the watch on a detach or exit. */
export interface Controlled extends Disposable {
  readonly action: ControlAction | undefined;
  readonly stop: AbortSignal;
}

/**
 * whileWatching for a job or a run: a cancel asks Batch (`cancel`) and the
 * watch goes on until it stops; a detach or exit ends the watch. With
 * cancelNow (--attach --cancel), the cancel is asked at once.
 */
export function underControl(o: Omit<WatchControl, "onAction"> & { cancel(why: string): void; cancelNow: boolean }): Controlled {
  const stop = new AbortController();
  let action: ControlAction | undefined;
  const watching = whileWatching({
    ...o,
    onAction(a, sig) {
      action = a;
      if (a === "cancel") o.cancel(sig);
      else stop.abort();
    },
  });
  if (o.cancelNow) {
    action = "cancel";
    o.cancel("--cancel");
  }
  return {
    get action() {
      return action;
    },
    stop: stop.signal,
    dispose: () => watching.dispose(),
  };
}
