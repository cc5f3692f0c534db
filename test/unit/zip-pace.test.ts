import { describe, expect, it } from "vitest";
import { AdaptivePace, LADDER } from "../../src/archive/zip-pace.js";

/** A pacer on a hand-driven clock; `idleCores` is how many cores each period leaves idle. */
function pacer(idleCores = 2) {
  let now = 0;
  let idle = 0;
  const pace = new AdaptivePace(
    () => now,
    () => idle,
  );
  const rung = () => LADDER.indexOf(pace.current());
  /** One 250 ms period in which the reader waited `starved` ms and the packer `blocked` ms; the rung after it. */
  const period = (starved: number, blocked: number) => {
    pace.starved(starved);
    pace.blocked(blocked);
    now += 250;
    idle += 250 * idleCores;
    return rung();
  };
  return { pace, rung, period, setIdle: (n: number) => (idleCores = n) };
}

describe("AdaptivePace", () => {
  it("starts with Huffman-only coding", () => {
    expect(pacer().pace.current()).toEqual(LADDER[1]);
  });

  it("climbs one step a period to level 6 while the packer waits on a slow link and cores stand idle", () => {
    const p = pacer();
    expect([p.period(0, 200), p.period(0, 200), p.period(10, 200), p.period(0, 200), p.period(0, 200)]).toEqual([2, 3, 4, 4, 4]);
    expect(LADDER[4]).toEqual({ level: 6 });
  });

  it("steps down to storing while the reader waits for deflate", () => {
    const p = pacer();
    expect([p.period(100, 0), p.period(100, 0)]).toEqual([0, 0]);
    expect(LADDER[0]).toEqual({ level: 0 });
  });

  it("does not climb without idle cores to pay for it", () => {
    const p = pacer(0.2);
    expect(p.period(0, 200)).toBe(1);
  });

  it("holds where both sides wait about as long: the burst of filling a part is not a verdict", () => {
    const p = pacer();
    p.period(0, 200);
    expect([p.period(80, 120), p.period(60, 100), p.period(20, 15)]).toEqual([2, 2, 2]);
  });

  it("decides only once a period has passed", () => {
    const p = pacer();
    p.pace.blocked(1000);
    expect(p.rung()).toBe(1);
  });
});
