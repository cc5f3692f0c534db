import type { Clock } from "../clock.js";
import type { Reporter } from "../ui/reporter.js";

/** What the user asked for with a signal while a job is watched. */
export type ControlAction = "detach" | "cancel" | "exit";

export interface ControlOptions {
  signals: NodeJS.EventEmitter;
  reporter: Reporter;
  clock: Clock;
  stdinIsTTY: boolean;
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
export function controlJob(o: ControlOptions): { dispose(): void } {
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
    if (sig === "SIGINT" && o.stdinIsTTY && !confirmed) {
      firstInterruptAt = now;
      o.reporter.info(`Press Ctrl-C again within ${CONFIRM_WINDOW_MS / 1000} seconds to cancel job ${o.jobId}, or Ctrl-Z to detach from it`);
      return;
    }
    act("cancel", sig);
  };
  const onDetach = (sig: NodeJS.Signals) => act("detach", sig);
  const handlers: [NodeJS.Signals, (sig: NodeJS.Signals) => void][] = [
    ["SIGINT", onInterrupt],
    ["SIGTERM", onInterrupt],
    ["SIGTSTP", onDetach],
    ["SIGHUP", onDetach],
  ];
  for (const [sig, fn] of handlers) o.signals.on(sig, fn);
  o.reporter.info(
    o.detachOnInterrupt
      ? "Ctrl-C, Ctrl-Z or SIGHUP detaches (the job keeps running); SIGTERM cancels the job"
      : o.stdinIsTTY
        ? "Press Ctrl-C twice to cancel the job; Ctrl-Z detaches (the job keeps running)"
        : "SIGINT or SIGTERM cancels the job; SIGHUP or SIGTSTP detaches (the job keeps running)",
  );
  return { dispose: () => handlers.forEach(([sig, fn]) => o.signals.off(sig, fn)) };
}
