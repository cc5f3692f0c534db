import { describe, expect, it } from "vitest";
import { startProgress } from "../../src/ui/progress.js";
import { createFakeClock } from "../support/clock.js";
import { createTestOutput } from "../support/io.js";

async function run(tty: boolean, quiet = false) {
  const io = createTestOutput({ tty });
  if (quiet) io.setVerbosity("quiet");
  const clock = createFakeClock();
  const p = startProgress(io, clock, "Uploading", 100_000_000);
  for (let i = 1; i <= 20; i++) {
    await clock.advance(1000);
    p.update(i * 5_000_000);
  }
  p.finish();
  io.info("done");
  return io.stderrText();
}

describe("progress", () => {
  it("on a terminal, redraws one line in place with a bar, bytes, rate and ETA", async () => {
    const text = await run(true);
    const frames = text.split("\r\x1b[K").filter(Boolean);
    expect(frames.length).toBeGreaterThan(10);
    expect(frames[3]).toMatch(/^Uploading {2}\[#{4,6}\.+\] {2}20 MB \/ 100 MB {2}5\.0 MB\/s {2}ETA 16 s$/);
    expect(text).not.toMatch(/Uploading[^\r]*\n/);
    expect(text.endsWith("done\n")).toBe(true);
  });

  it("in a log (not a terminal), prints a plain line every 5 seconds", async () => {
    const lines = (await run(false)).trim().split("\n");
    expect(lines).toEqual([
      "Uploading  25 MB / 100 MB  (25%)  5.0 MB/s  ETA 15 s",
      "Uploading  50 MB / 100 MB  (50%)  5.0 MB/s  ETA 10 s",
      "Uploading  75 MB / 100 MB  (75%)  5.0 MB/s  ETA 5 s",
      "Uploading  100 MB / 100 MB  (100%)  5.0 MB/s",
      "done",
    ]);
    expect(lines.join("")).not.toContain("\x1b");
  });

  it("ends every line with what it is told to say beside the bytes", async () => {
    const io = createTestOutput({ tty: false });
    const clock = createFakeClock();
    const p = startProgress(io, clock, "Uploading", 100_000_000, "reusing 12,480 files, 9.8 GB");
    await clock.advance(5000);
    p.update(25_000_000);
    expect(io.stderrText()).toBe("Uploading  25 MB / 100 MB  (25%)  5.0 MB/s  ETA 15 s  reusing 12,480 files, 9.8 GB\n");
  });

  it("shows nothing with --quiet", async () => {
    expect(await run(true, true)).toBe("");
    expect(await run(false, true)).toBe("");
  });
});
