import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { whileWatching, type ControlAction } from "../../src/job/control.js";
import { createFakeClock } from "../support/clock.js";
import { createTestOutput } from "../support/io.js";

function setup(o: { tty: boolean; detachOnInterrupt?: boolean }) {
  const signals = new EventEmitter();
  const clock = createFakeClock();
  const io = createTestOutput({ stdinIsTTY: o.tty });
  const actions: ControlAction[] = [];
  const control = whileWatching({
    signals,
    out: io,
    clock,
    detachOnInterrupt: o.detachOnInterrupt ?? false,
    jobId: "job-1",
    onAction: (a) => actions.push(a),
  });
  return { signals, clock, io, actions, control };
}

describe("job control by signals", () => {
  it("on a terminal, one Ctrl-C only warns; a second within 10 s cancels; one more exits", async () => {
    const t = setup({ tty: true });
    expect(t.io.stderrText()).toContain("Press Ctrl-C twice to cancel the job; Ctrl-Z detaches");
    t.signals.emit("SIGINT", "SIGINT");
    expect(t.actions).toEqual([]);
    expect(t.io.stderrText()).toContain("Press Ctrl-C again within 10 seconds to cancel job job-1");
    await t.clock.advance(9_000);
    t.signals.emit("SIGINT", "SIGINT");
    expect(t.actions).toEqual(["cancel"]);
    t.signals.emit("SIGINT", "SIGINT");
    expect(t.actions).toEqual(["cancel", "exit"]);
  });

  it("on a terminal, a second Ctrl-C after the window only warns again", async () => {
    const t = setup({ tty: true });
    t.signals.emit("SIGINT", "SIGINT");
    await t.clock.advance(10_001);
    t.signals.emit("SIGINT", "SIGINT");
    expect(t.actions).toEqual([]);
    t.signals.emit("SIGINT", "SIGINT");
    expect(t.actions).toEqual(["cancel"]);
  });

  it("without a terminal, one SIGINT or SIGTERM cancels", () => {
    for (const sig of ["SIGINT", "SIGTERM"]) {
      const t = setup({ tty: false });
      t.signals.emit(sig, sig);
      expect(t.actions).toEqual(["cancel"]);
      t.control.dispose();
    }
  });

  it("Ctrl-Z and SIGHUP detach; --detach-on-interrupt makes Ctrl-C detach", () => {
    const t = setup({ tty: true });
    t.signals.emit("SIGTSTP", "SIGTSTP");
    t.signals.emit("SIGHUP", "SIGHUP");
    expect(t.actions).toEqual(["detach", "detach"]);
    const d = setup({ tty: true, detachOnInterrupt: true });
    d.signals.emit("SIGINT", "SIGINT");
    expect(d.actions).toEqual(["detach"]);
  });

  it("dispose removes every handler", () => {
    const t = setup({ tty: false });
    t.control.dispose();
    for (const sig of ["SIGINT", "SIGTERM", "SIGTSTP", "SIGHUP"]) expect(t.signals.listenerCount(sig)).toBe(0);
  });
});
