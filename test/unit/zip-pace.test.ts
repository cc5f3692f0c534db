import { describe, expect, it } from "vitest";
import { AdaptivePace, LADDER } from "../../src/archive/zip-pace.js";
import { bestBlend, SettingRecord } from "../../src/archive/zip-pace-model.js";

const MiB = 1024 * 1024;
const STORE = 0;
const HUFFMAN = 1;
const LEVEL1 = 2;
const LEVEL6 = 3;
const LEVEL9 = 4;

/** How data compresses at each rung: output per input byte, and one core's speed in MiB/s. */
type Data = readonly { ratio: number; mibPerSecond: number }[];
const data = (ratios: number[], mibPerSecond: number[]): Data => ratios.map((ratio, i) => ({ ratio, mibPerSecond: mibPerSecond[i]! }));

// The reference tables: every setting shrinks them some, the harder ones at a cost.
const TEXT = data([1, 0.62, 0.44, 0.41, 0.4], [Infinity, 230, 100, 42, 15]);
// Genomes that repeat from record to record: only levels 6 and 9 see the repeats, and cheaply.
const GENOMES = data([1, 0.28, 0.34, 0.011, 0.009], [Infinity, 190, 110, 110, 115]);
// Already compressed: nothing shrinks.
const NOISE = data([1, 1, 1, 1, 1], [Infinity, 200, 60, 45, 45]);

/**
 * A pacer on a hand-driven clock with two cores, packing 1 MiB pieces of
 * `data` two at a time into an uploader that holds `bufferMiB` and sends
 * them down a link of `linkMiBps`: the packer waits for the uploader only
 * once its buffers are full, the uploader for the packer while deflate is
 * slower.
 */
function simulate(linkMiBps: number, { bufferMiB = 24, parts = true } = {}) {
  let now = 0;
  const pace = new AdaptivePace({ now: () => now, cores: 2 });
  const used: number[] = [];
  const link = (linkMiBps * MiB) / 1000;
  // Bytes in the uploader's buffers, and when they were last counted; what
  // the link has sent, and for how long it was sending. With `parts`, the
  // uploader says so as each 8 MiB part has gone up.
  let queued = 0;
  let delivered = 0;
  let busyMs = 0;
  const drain = () => {
    const out = Math.min(queued, link * (now - drained));
    const before = Math.floor(delivered / (8 * MiB));
    queued -= out;
    delivered += out;
    busyMs += out / link;
    if (parts && Math.floor(delivered / (8 * MiB)) > before) pace.uploaded(delivered, busyMs);
  };
  let drained = 0;
  let sent = 0;
  let cpu = 0;
  /** `pieces` of `data`, the first of them the start of a file if `newFile`. */
  const run = (data: Data, pieces: number, newFile = false) => {
    for (let i = 0; i < pieces; i += 2) {
      const start = now;
      const pair = [0, 1].map((k) => {
        const setting = pace.choose(MiB, newFile && i + k === 0);
        const rung = LADDER.indexOf(setting);
        used.push(rung);
        const { ratio, mibPerSecond } = data[rung]!;
        const done = setting.level > 0 ? pace.deflating(setting, MiB) : undefined;
        return { done, out: Math.round(MiB * ratio), cpuMs: setting.level > 0 ? 1000 / mibPerSecond : 0 };
      });
      for (const p of [...pair].sort((a, b) => a.cpuMs - b.cpuMs)) {
        now = start + p.cpuMs;
        p.done?.(p.out);
      }
      cpu += now - start;
      const out = pair[0]!.out + pair[1]!.out;
      drain();
      drained = now;
      // The uploader takes what fits in its buffers at once; the rest as the link makes room.
      const room = Math.max(0, bufferMiB * MiB - queued);
      const waitMs = out > room ? (out - room) / link : 0;
      if (now - start > 0) pace.starved(now - start);
      if (waitMs > 0) pace.blocked(waitMs);
      now += waitMs;
      drain();
      drained = now;
      queued += out;
      pace.sent(out);
      sent += out;
    }
  };
  /** Which rungs the last `n` pieces used, counted. */
  const last = (n: number) => {
    const counts = new Map<number, number>();
    for (const r of used.slice(-n)) counts.set(r, (counts.get(r) ?? 0) + 1);
    return counts;
  };
  /** When the link has sent everything so far. */
  /** From here on, how long the cores deflated and how long the link took to send their output. */
  const from = () => {
    const [cpu0, sent0] = [cpu, sent];
    return () => ({ cpuMs: cpu - cpu0, linkMs: (sent - sent0) / link });
  };
  return { run, used, last, pace, from };
}

describe("bestBlend", () => {
  it("takes the setting whose slower side (CPU or link) is fastest", () => {
    expect(bestBlend([{ cpu: 0, link: 10 }, { cpu: 4, link: 4 }, { cpu: 9, link: 1 }])).toMatchObject({ a: 1, b: 1, time: 4 * 1.05 });
  });

  it("blends a link-bound setting with a CPU-bound one so that both sides are equally busy", () => {
    const blend = bestBlend([{ cpu: 0, link: 10 }, { cpu: 8, link: 2 }]);
    expect(blend).toMatchObject({ a: 0, b: 1 });
    expect(blend.share).toBeCloseTo(10 / 16);
    // Both busy for 5; the CPU counts a little on top.
    expect(blend.time).toBeCloseTo(5 * 1.05);
  });
});

describe("SettingRecord", () => {
  it("replaces its guess with the first measurement, then follows new pieces with older ones counting less", () => {
    const r = new SettingRecord({ ratio: 0.5, msPerByte: 1 });
    expect(r.measured).toBe(false);
    r.add(100, 10, 3);
    expect([r.measured, r.ratio, r.msPerByte]).toEqual([true, 0.1, 0.03]);
    r.add(100, 15, 3);
    expect(r.ratio).toBeCloseTo((7.5 + 15) / 175);
  });

  it("says when a piece compressed twice better or worse than it expected, and then starts over from it: the data changed", () => {
    const r = new SettingRecord({ ratio: 0.5, msPerByte: 1 });
    expect(r.add(100, 40, 1)).toBe(false);
    expect(r.add(100, 30, 1)).toBe(false);
    expect(r.add(100, 95, 1)).toBe(true);
    expect(r.ratio).toBe(0.95);
  });

  it("takes a file's first piece compressing worse, without the history before it, as no sign of change; compressing better still is", () => {
    const r = new SettingRecord({ ratio: 0.01, msPerByte: 1 });
    r.add(100, 1, 1);
    expect(r.add(100, 2.5, 1, true)).toBe(false);
    expect(r.ratio).toBeCloseTo((0.75 + 2.5) / 175);
    expect(r.add(100, 1, 1)).toBe(false);
    expect(r.add(100, 0.2, 1, true)).toBe(true);
  });
});

describe("AdaptivePace", () => {
  it("measures every setting on the first pieces", () => {
    const s = simulate(30);
    s.run(TEXT, 4);
    expect([...s.used].sort()).toEqual([HUFFMAN, LEVEL1, LEVEL6, LEVEL9]);
  });

  it("compresses redundant data as hard as it pays on a slow link, filling the link's spare time with cheaper pieces", () => {
    const s = simulate(30);
    s.run(GENOMES, 200);
    const last = s.last(100);
    expect((last.get(LEVEL6) ?? 0) + (last.get(LEVEL9) ?? 0)).toBeGreaterThanOrEqual(50);
    expect(last.get(STORE) ?? 0).toBeLessThan(5);
  });

  it("on a slow link behind the uploader's buffers, measures the link between waits on it and compresses redundant data hard", () => {
    const s = simulate(30);
    s.run(GENOMES, 500);
    const busy = s.from();
    s.run(GENOMES, 300);
    // Both as busy as each other: the link sends the cheaply packed share while the cores deflate the rest at level 9.
    const { cpuMs, linkMs } = busy();
    expect(linkMs / cpuMs).toBeGreaterThan(0.85);
    expect(linkMs / cpuMs).toBeLessThan(1.15);
  });

  it("stores part of redundant data when the link is fast and the cores are the limit", () => {
    const s = simulate(1000);
    s.run(GENOMES, 800);
    expect(s.last(100).get(STORE)).toBeGreaterThan(20);
  });

  it("on a fast link, sees from the uploader's first parts that storing pays, where waiting for its buffers to fill packs for a slow one", () => {
    const early = (parts: boolean) => {
      const s = simulate(400, { parts });
      s.run(TEXT, 40);
      return (s.last(30).get(STORE) ?? 0) + (s.last(30).get(HUFFMAN) ?? 0);
    };
    expect(early(true)).toBeGreaterThan(15);
    expect(early(false)).toBeLessThan(5);
  });

  it("stores what does not shrink, trying the other settings ever more rarely", () => {
    const s = simulate(30);
    s.run(NOISE, 300);
    expect(s.last(200).get(STORE)).toBeGreaterThanOrEqual(190);
  });

  it("compresses text harder on a slow link than on a fast one", () => {
    const slow = simulate(30);
    slow.run(TEXT, 400);
    const fast = simulate(400);
    fast.run(TEXT, 400);
    const harder = [LEVEL1, LEVEL6, LEVEL9].reduce((n, r) => n + (slow.last(100).get(r) ?? 0), 0);
    expect(harder).toBeGreaterThan(90);
    expect((fast.last(100).get(STORE) ?? 0) + (fast.last(100).get(HUFFMAN) ?? 0)).toBeGreaterThan(90);
  });

  it("notices when the data changes, from incompressible to redundant", () => {
    const s = simulate(30);
    s.run(NOISE, 100);
    s.run(GENOMES, 60, true);
    expect((s.last(30).get(LEVEL6) ?? 0) + (s.last(30).get(LEVEL9) ?? 0)).toBeGreaterThan(15);
  });

  it("tries compressing the first piece of each file while it stores everything", () => {
    let now = 0;
    const pace = new AdaptivePace({ now: () => now, cores: 2 });
    const seen = (fileStart: boolean) => {
      const setting = pace.choose(MiB, fileStart);
      const done = setting.level > 0 ? pace.deflating(setting, MiB) : undefined;
      now += 5;
      done?.(MiB);
      return LADDER.indexOf(setting);
    };
    for (let i = 0; i < 100; i++) seen(false);
    expect([seen(true), seen(true)]).toEqual([HUFFMAN, STORE]);
  });
});
