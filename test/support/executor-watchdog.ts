import { spawn } from "node:child_process";
import { once } from "node:events";
import type { Socket } from "node:net";

// Job processes run in their own process groups, so Ctrl-C on the test run
// does not reach them, and a test worker that dies skips stop(). This helper
// outlives the worker: when its stdin closes, for whatever reason, it kills
// the groups still registered and removes the executor's temporary directory.
const WATCHDOG_SCRIPT = `
const groups = new Set();
let pending = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  const lines = (pending + chunk).split("\\n");
  pending = lines.pop();
  for (const line of lines) (line[0] === "+" ? groups.add : groups.delete).call(groups, Number(line.slice(1)));
});
process.stdin.on("end", () => {
  for (const pgid of groups) {
    try { process.kill(-pgid, "SIGKILL"); } catch {}
  }
  require("node:fs").rmSync(process.argv[1], { recursive: true, force: true });
});
`;

export interface Watchdog {
  watch(pgid: number): void;
  unwatch(pgid: number): void;
  /** Ends the watchdog, which first cleans up whatever is still registered. */
  close(): Promise<void>;
}

export function startWatchdog(tempRoot: string): Watchdog {
  const child = spawn(process.execPath, ["-e", WATCHDOG_SCRIPT, tempRoot], {
    stdio: ["pipe", "ignore", "inherit"],
    detached: true,
  });
  // Neither the watchdog nor its pipe may keep the test worker alive.
  child.unref();
  (child.stdin as Socket).unref();
  const send = (line: string) => void child.stdin!.write(line + "\n");
  return {
    watch: (pgid) => send(`+${pgid}`),
    unwatch: (pgid) => send(`-${pgid}`),
    async close() {
      if (child.exitCode !== null) return;
      const exited = once(child, "exit");
      child.stdin!.end();
      await exited;
    },
  };
}
