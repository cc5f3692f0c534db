import { readdir, readFile } from "node:fs/promises";
import { shownPath } from "../ui/format.js";
import type { Output } from "../ui/output.js";

export interface Leftover {
  pid: number;
  command: string;
}

/**
 * Processes still running that the command started: those whose environment
 * carries all the marks (this run's NBATCH_RUN_ID, and a fan-out task's
 * NBATCH_INDEX, since its siblings may share the machine), other than this process and its
 * ancestors. A forgotten `&` or a daemon keeps the variable even when it
 * leaves the command's process group. Linux only (/proc); elsewhere, none.
 */
export async function leftoverProcesses(marks: readonly string[]): Promise<Leftover[]> {
  const names = await readdir("/proc").catch(() => [] as string[]);
  const mine = await ancestry(process.pid);
  const found: Leftover[] = [];
  await Promise.all(
    names.map(async (name) => {
      const pid = Number(name);
      if (!Number.isInteger(pid) || mine.has(pid)) return;
      // Other users' processes, and those that ended meanwhile, cannot be read: not ours anyway.
      const environ = await readFile(`/proc/${pid}/environ`).catch(() => undefined);
      const vars = environ?.toString("utf8").split("\0");
      if (!vars || !marks.every((m) => vars.includes(m))) return;
      const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
      found.push({ pid, command: cmdline.split("\0").filter(Boolean).join(" ") || "?" });
    }),
  );
  return found.sort((a, b) => a.pid - b.pid);
}

async function ancestry(pid: number): Promise<Set<number>> {
  const seen = new Set<number>();
  for (let p = pid; p > 0 && !seen.has(p); ) {
    seen.add(p);
    const stat = await readFile(`/proc/${p}/stat`, "utf8").catch(() => "");
    // The command name in parentheses may hold spaces: the parent pid is the second field after it.
    p = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1] ?? 0);
  }
  return seen;
}

/** Ends what the command left running, as the end of its container would. */
export async function endLeftovers(marks: readonly string[]): Promise<void> {
  for (const p of await leftoverProcesses(marks)) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/** Says which processes the command left running, since what they write from now on is lost. */
export async function noteLeftovers(out: Output, marks: readonly string[]): Promise<Leftover[] | undefined> {
  const left = await leftoverProcesses(marks);
  if (!left.length) return undefined;
  const shown = left.slice(0, 5).map((p) => `${p.pid} ${shownPath(p.command.slice(0, 60))}`).join("; ");
  out.warn(
    `nbatch agent: the command exited but left ${left.length === 1 ? "a process" : `${left.length} processes`} running (${shown}${left.length > 5 ? "; ..." : ""}): ` +
      "what they write from now on is not in the results; end the command with `wait` to wait for them",
  );
  return left;
}
