import { describe, expect, it } from "vitest";
import { closeRun, FanoutView } from "../../src/job/fanout/view.js";
import { createFakeClock } from "../support/clock.js";
import { createTestOutput } from "../support/io.js";

describe("the live view of a run's tasks", () => {
  it("on a terminal, redraws one line in place with the counts and how long tasks have waited in RUNNABLE", async () => {
    const out = createTestOutput({ tty: true });
    const clock = createFakeClock();
    const view = new FanoutView(out, clock, 4);
    view.update({ RUNNABLE: 4 }, 0);
    await clock.advance(75_000);
    view.update({ RUNNABLE: 4 }, 0);
    view.update({ RUNNING: 2, SUCCEEDED: 2 }, 1);
    const text = out.stderrText();
    expect(text.split("\r\x1b[K").filter(Boolean)).toEqual([
      "Tasks: 4 RUNNABLE (RUNNABLE for 0 s); results of 0 of 4 tasks applied",
      "Tasks: 4 RUNNABLE (RUNNABLE for 1 min 15 s); results of 0 of 4 tasks applied",
      "Tasks: 2 SUCCEEDED, 2 RUNNING; results of 1 of 4 tasks applied",
    ]);
    expect(text).not.toContain("\n");
  });

  it("in CI, writes a line when the counts moved, at most every 15 s, and one a minute while they stand still", async () => {
    const out = createTestOutput();
    const clock = createFakeClock();
    const view = new FanoutView(out, clock, 3);
    view.update({ RUNNING: 3 }, 0);
    await clock.advance(5_000);
    view.update({ RUNNING: 2, SUCCEEDED: 1 }, 1);
    await clock.advance(10_000);
    view.update({ RUNNING: 2, SUCCEEDED: 1 }, 1);
    await clock.advance(30_000);
    view.update({ RUNNING: 2, SUCCEEDED: 1 }, 1);
    await clock.advance(30_000);
    view.update({ RUNNING: 2, SUCCEEDED: 1 }, 1);
    expect(out.stderrText().split("\n").filter(Boolean)).toEqual([
      "Tasks: 3 RUNNING; results of 0 of 3 tasks applied",
      "Tasks: 1 SUCCEEDED, 2 RUNNING; results of 1 of 3 tasks applied",
      "Tasks: 1 SUCCEEDED, 2 RUNNING; results of 1 of 3 tasks applied",
    ]);
    expect(out.stderrText()).not.toContain("\r");
  });
});

describe("how a run ends", () => {
  const task = (index: number) => ({ index });

  it("exits with the lowest failed task's code, 1 when it has none, and says how many failed", () => {
    const out = createTestOutput();
    const failed = [
      { task: task(7), exitCode: 2, ran: true },
      { task: task(3), exitCode: 9, ran: true },
      { task: task(8), ran: false },
    ];
    expect(closeRun(out, { total: 10, failed, took: 65_000 })).toBe(9);
    expect(out.stderrText()).toMatch(/^Tasks: 7 of 10 SUCCEEDED, 3 FAILED \(1 not run\) after .*; the exit code is task 3's, the lowest that failed$/m);
    expect(closeRun(createTestOutput(), { total: 2, failed: [{ task: task(0), ran: false }], took: 1 })).toBe(1);
  });

  it("exits 0 when every task succeeded, and 1 when results were refused", () => {
    const tally = { applied: 2, written: 3, bytes: 10, identical: 1, conflicts: 1, refused: 0, missing: [], failed: [], exitCodes: new Map() };
    const out = createTestOutput();
    expect(closeRun(out, { total: 2, failed: [], tally, took: 1000 })).toBe(0);
    expect(out.stderrText()).toMatch(/^Results of 2 of 2 tasks: 3 files written \(10 B\), 1 already up to date, 1 conflict \(above\)$/m);
    expect(closeRun(createTestOutput(), { total: 2, failed: [], tally: { ...tally, refused: 1 }, took: 1000 })).toBe(1);
  });
});
