import { describe, expect, it } from "vitest";
import { jobName, newRunId } from "../../src/runid.js";

const BATCH_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The Unix milliseconds in a UUIDv7's first 48 bits. */
const millisOf = (id: string) => parseInt(id.replace(/-/g, "").slice(0, 12), 16);

describe("newRunId", () => {
  it("is a UUIDv7 (version 7, RFC 9562 variant) carrying the time it was made", () => {
    const now = Date.UTC(2026, 10, 21, 14, 3, 7, 123);
    const id = newRunId(now);
    expect(id).toMatch(UUID_V7);
    expect(millisOf(id)).toBe(now);
  });

  it("sorts as text in the order the ids were made", () => {
    const start = Date.UTC(2025, 0, 1);
    // Steps that cross every byte of the timestamp, not only the last one.
    const times = [0, 1, 255, 256, 65_535, 65_536, 2 ** 24, 2 ** 32, 2 ** 40].map((d) => start + d);
    const ids = times.map((t) => newRunId(t));
    expect([...ids].sort()).toEqual(ids);
    expect(ids.map(millisOf)).toEqual(times);
  });

  it("is unique within one millisecond", () => {
    const now = Date.UTC(2025, 0, 1);
    const ids = Array.from({ length: 10_000 }, () => newRunId(now));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids.slice(0, 100)) expect(id).toMatch(UUID_V7);
  });
});

describe("jobName", () => {
  const runId = newRunId(Date.UTC(2025, 0, 1));

  it.each([
    ["an ordinary name", "analysis", `nbatch-analysis-${runId}`],
    ["spaces and punctuation", "my data (v2)!", `nbatch-my-data-v2-${runId}`],
    ["accents, folded to ASCII", "ünïcödé", `nbatch-unicode-${runId}`],
    ["leading dashes and underscores", "--rf _x", `nbatch-rf-_x-${runId}`],
    ["an empty name", "", `nbatch-dir-${runId}`],
    ["only symbols", "!@#$%^&*()", `nbatch-dir-${runId}`],
    ["only non-Latin letters", "日本語のデータ", `nbatch-dir-${runId}`],
    ["emoji", "🚀 launch 🚀", `nbatch-launch-${runId}`],
    ["dots", "..", `nbatch-dir-${runId}`],
  ])("%s", (_what, dir, expected) => {
    expect(jobName(dir, runId)).toBe(expected);
  });

  const hostile = [
    "",
    "-",
    "---",
    "___",
    "-_-_-",
    ".",
    "..",
    " ",
    "\t\n",
    "!@#$%^&*()",
    "a".repeat(500),
    "-".repeat(500),
    "é".repeat(500),
    "ab-".repeat(200),
    "a_".repeat(300),
    "x".repeat(77) + "-" + "y".repeat(100),
    "日本語",
    "🚀🚀🚀",
    "Ａｂｃ", // full-width letters, which NFKD turns into ASCII
    "--help",
    "-rf",
    "名前 with ascii",
    "\u0000\u0007nul",
    "a\u0301b\u0308",
    "$(rm -rf /)",
    "../../etc/passwd",
  ];

  it.each(hostile.map((d) => [JSON.stringify(d).slice(0, 40), d]))("is valid for Batch whatever the directory is called: %s", (_shown, dir) => {
    const name = jobName(dir, runId);
    expect(name).toMatch(BATCH_NAME);
    expect(name.length).toBeLessThanOrEqual(128);
    // The whole run id survives truncation, so names stay unique per run.
    expect(name.endsWith(`-${runId}`)).toBe(true);
    expect(name).not.toMatch(/--|-_|_-/);
  });

  it("keeps as much of a long directory name as fits", () => {
    const name = jobName("a".repeat(500), runId);
    expect(name).toHaveLength(128);
    expect(name).toBe(`nbatch-${"a".repeat(128 - "nbatch-".length - runId.length - 1)}-${runId}`);
  });

  it("does not end the shortened directory part in a separator", () => {
    // The cut lands right after a dash: it must be trimmed, not kept before the run id.
    const keep = 128 - "nbatch-".length - runId.length - 1;
    const name = jobName("b".repeat(keep - 1) + "-tail", runId);
    expect(name).toBe(`nbatch-${"b".repeat(keep - 1)}-${runId}`);
    expect(name).toMatch(BATCH_NAME);
  });
});
