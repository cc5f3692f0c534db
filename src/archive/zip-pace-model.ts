/**
 * The arithmetic of choosing a compression setting: what each setting did
 * on recent data, and which setting, or blend of two, sends the data in
 * the least time when packing and the link work at once.
 */

/** What one setting did to recent pieces: bytes in, bytes out and deflate CPU, older pieces counting less. */
export class SettingRecord {
  private inBytes: number;
  private outBytes: number;
  private cpuMs: number;
  /** Measured at least once (or known without measuring, as storing is). */
  measured: boolean;
  /** Pieces chosen since this setting was last chosen (never, to begin with). */
  since = Number.POSITIVE_INFINITY;

  /** Starts from a guess that the first measured piece outweighs, or, if `exact`, from what is known. */
  constructor(guess: { ratio: number; msPerByte: number }, readonly exact = false) {
    this.inBytes = 1;
    this.outBytes = guess.ratio;
    this.cpuMs = guess.msPerByte;
    this.measured = exact;
    if (exact) this.since = 0;
  }

  /** Output bytes per input byte. */
  get ratio(): number {
    return this.outBytes / this.inBytes;
  }

  /** CPU milliseconds (one core) per input byte. */
  get msPerByte(): number {
    return this.cpuMs / this.inBytes;
  }

  /**
   * Adds one piece. Each piece before it counts a quarter less, so the
   * record follows the data within a few pieces; returns whether this
   * piece compressed at least twice better or worse than the record said,
   * a sign that the data changed, and if so it replaces the record. A
   * file's first piece has no history before it to prime deflate's window:
   * on data that repeats from one record to the next it compresses worse
   * than the rest of the file (twice as badly, on the sequences), which
   * says nothing about the data, so only its compressing better can.
   */
  add(inBytes: number, outBytes: number, cpuMs: number, unprimed = false): boolean {
    const drift = Math.log(outBytes / inBytes / this.ratio);
    const changed = this.measured && (unprimed ? -drift : Math.abs(drift)) > Math.LN2;
    // What was measured on other data says nothing about this data.
    const keep = this.measured && !changed ? DECAY : 0;
    this.inBytes = this.inBytes * keep + inBytes;
    this.outBytes = this.outBytes * keep + outBytes;
    this.cpuMs = this.cpuMs * keep + cpuMs;
    this.measured = true;
    return changed;
  }

  /** The data changed: the next piece measured replaces the record instead of adding to it. */
  outdated(): void {
    if (!this.exact) this.measured = false;
  }
}

const DECAY = 0.75;

/** One setting's cost per input byte: CPU time spread over the cores it may use, and link time for its output. */
export interface Cost {
  cpu: number;
  link: number;
}

/** Use setting `a`, and `b` for a `share` of the pieces; `time` is what that costs per input byte. */
export interface Blend {
  a: number;
  b: number;
  share: number;
  time: number;
}

/**
 * Packing and uploading overlap, so a byte costs the longer of its CPU time
 * and its link time: the best single setting minimises max(cpu, link). A
 * blend of two does better when one is CPU-bound and the other link-bound:
 * the share that makes both times equal keeps the CPU and the link busy
 * alike. Where times tie (data that no setting shrinks, on a slow link),
 * the CPU decides: a little of it counts on top, as it is never free.
 */
export function bestBlend(costs: readonly Cost[]): Blend {
  const time = (cpu: number, link: number) => Math.max(cpu, link) + CPU_WEIGHT * cpu;
  let best: Blend = { a: 0, b: 0, share: 0, time: Number.POSITIVE_INFINITY };
  for (const [i, ci] of costs.entries()) {
    const alone = time(ci.cpu, ci.link);
    if (alone < best.time) best = { a: i, b: i, share: 0, time: alone };
    for (const [j, cj] of costs.entries()) {
      const di = ci.cpu - ci.link;
      const dj = cj.cpu - cj.link;
      // Only a link-bound setting blended with a CPU-bound one meets in the middle.
      if (!(di < 0 && dj > 0)) continue;
      const share = di / (di - dj);
      const cpu = (1 - share) * ci.cpu + share * cj.cpu;
      const blended = time(cpu, cpu);
      if (blended < best.time) best = { a: i, b: j, share, time: blended };
    }
  }
  return best;
}

const CPU_WEIGHT = 0.05;
