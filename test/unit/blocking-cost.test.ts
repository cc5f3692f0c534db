import { describe, expect, it } from "vitest";
import { BlockingCost } from "../../src/pool.js";

/** A blocking call that takes about `ms`. */
const busy = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

describe("BlockingCost", () => {
  it("blocks while calls are cheap, and after a slow moment still blocks one call in 64, so it comes back once they are cheap again", () => {
    const cost = new BlockingCost(0.2, 0.5);
    expect(cost.cheap).toBe(true);
    cost.timed(1, () => busy(5));
    const answers = Array.from({ length: 128 }, () => cost.cheap);
    expect(answers.filter(Boolean)).toHaveLength(2);
    // The probes find the calls cheap again: the average falls back under the line.
    for (let i = 0; i < 10; i++) cost.timed(1, () => undefined);
    expect(cost.cheap).toBe(true);
  });

  it("averages a group of calls over its count, and counts an empty group as nothing", () => {
    const cost = new BlockingCost(0.2, 1);
    cost.timed(100, () => busy(5));
    expect(cost.cheap).toBe(true);
    cost.timed(0, () => busy(5));
    expect(cost.cheap).toBe(true);
    expect(cost.timed(1, () => 42)).toBe(42);
  });
});
