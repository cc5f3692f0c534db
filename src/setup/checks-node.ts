import { check, type CheckResult } from "./check.js";

/**
 * The Node.js line this nbatch runs on (README, "Node.js versions"). Node 20
 * still works, but it reached its end of life in April 2026, and the AWS SDK
 * releases after the first week of January 2027 need Node 22: the nbatch
 * release that takes them up will too. Each line's end of life, by date.
 */
const END_OF_LIFE: Record<number, string> = { 20: "2026-04-30", 22: "2027-04-30", 24: "2028-04-30", 26: "2029-04-30" };

export function checkNode(version = process.version, today = new Date()): CheckResult {
  const major = Number(/^v(\d+)/.exec(version)?.[1]);
  const end = END_OF_LIFE[major];
  const facts = { node: version };
  if (end && today.toISOString().slice(0, 10) > end) {
    return {
      ...check("node", "node", "warn", `${version}: this line reached its end of life on ${end}, and nbatch releases after January 2027 need Node 22`, "install Node.js 24 (an LTS line), e.g. from nodejs.org or your package manager"),
      facts,
    };
  }
  return { ...check("node", "node", "ok", `${version}${end ? `, maintained until ${end}` : ""}`), facts };
}
