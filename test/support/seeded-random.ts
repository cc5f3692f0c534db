export interface SeededRandom {
  readonly seed: number;
  /** The next number in [0, 1). */
  next(): number;
}

/**
 * A reproducible stand-in for Math.random: seeded from NBATCH_TEST_SEED when
 * set, else at random, so a run that failed can be replayed with its seed.
 */
export function seededRandom(): SeededRandom {
  const given = process.env.NBATCH_TEST_SEED;
  const seed = given ? Number(given) >>> 0 : Math.floor(Math.random() * 2 ** 32);
  let state = seed;
  // mulberry32: tiny, and good enough to spread delays.
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return { seed, next };
}
