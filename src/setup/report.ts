import type { Output } from "../ui/output.js";
import { plural } from "../ui/format.js";
import type { CheckResult, CheckStatus } from "./check.js";

/**
 * The symbols stay without colour too (in CI logs and pipes): they are the
 * result, and `grep ✘` finds the failures. Colour only follows io.stdoutColor.
 */
const MARK: Record<CheckStatus, { symbol: string; color: string }> = {
  ok: { symbol: "✔", color: "32" },
  warn: { symbol: "⚠", color: "33" },
  fail: { symbol: "✘", color: "31" },
  skip: { symbol: "-", color: "2" },
};

export function printReport(io: Output, heading: string, results: readonly CheckResult[]): void {
  const paint = (code: string, s: string) => (io.stdoutColor ? `\x1b[${code}m${s}\x1b[0m` : s);
  const width = Math.max(...results.map((r) => r.title.length)) + 2;
  io.out(heading);
  for (const r of results) {
    const mark = MARK[r.status];
    io.out(`${paint(mark.color, mark.symbol)} ${r.title.padEnd(width)}${r.detail}`);
    if (r.hint && r.status !== "ok") io.out(`${" ".repeat(width + 2)}${paint("2", "fix:")} ${r.hint}`);
  }
  io.out(summaryLine(results));
}

function summaryLine(results: readonly CheckResult[]): string {
  const count = (s: CheckStatus) => results.filter((r) => r.status === s).length;
  const [warn, fail] = [count("warn"), count("fail")];
  if (fail) return `${plural(fail, "required check")} failed${warn ? ` and ${plural(warn, "warning")}` : ""}: fix the ✘ lines first.`;
  if (warn) return `Ready, with ${plural(warn, "warning")}: jobs will run, but see the ⚠ lines.`;
  return "Ready: every check passed.";
}

/** The --json document: one object on stdout. */
export function jsonReport(runner: string, region: string | undefined, results: readonly CheckResult[]): string {
  const count = (s: CheckStatus) => results.filter((r) => r.status === s).length;
  return JSON.stringify({
    ok: count("fail") === 0,
    runner,
    ...(region ? { region } : {}),
    summary: { ok: count("ok"), warn: count("warn"), fail: count("fail"), skip: count("skip") },
    checks: results,
  });
}
