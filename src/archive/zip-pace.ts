import { cpus } from "node:os";
import { constants } from "node:zlib";

/** zlib settings for one chunk; level 0 means the chunk is stored. */
export interface Deflate {
  level: number;
  strategy?: number;
}

/**
 * From the cheapest to the smallest output. Huffman-only coding runs about
 * 2.4x as fast as level 1 and still shrinks text; level 6 is zlib's default
 * and a third as fast as level 1 (docs/performance.md).
 */
export const LADDER: readonly Deflate[] = [
  { level: 0 },
  { level: 1, strategy: constants.Z_HUFFMAN_ONLY },
  { level: 1 },
  { level: 3 },
  { level: 6 },
];
// Huffman-only to begin with: cheap enough not to hold back a fast link, and
// already smaller than storing on a slow one, while the first periods tell.
const START = 1;

/**
 * Chooses how hard each chunk is compressed. The writer reports how long
 * the archive's reader waited for deflate output (compression is the
 * bottleneck) and how long the packer waited for the reader to take what
 * it had made (the upload is): the pacer steps down or up the ladder.
 */
export interface Pacer {
  current(): Deflate;
  starved(ms: number): void;
  blocked(ms: number): void;
}

export function fixedPace(level: number): Pacer {
  const setting = { level };
  return { current: () => setting, starved: () => undefined, blocked: () => undefined };
}

// Decisions are made on periods of at least this long. The reader takes a
// whole part at a time, so even a packer that keeps well ahead makes it
// wait now and then: what counts is which side waited more. The pace steps
// down when the reader waited longer than the packer and for at least
// DOWN_SHARE of the period; it steps up when the packer waited at least
// UP_SHARE of the period and twice as long as the reader, while this many
// cores stood idle to pay for the harder setting.
const PERIOD_MS = 250;
const DOWN_SHARE = 0.1;
const UP_SHARE = 0.25;
const UP_IDLE_CORES = 0.5;

/** Milliseconds all of the machine's CPUs have spent idle. */
function idleMs(): number {
  return cpus().reduce((n, c) => n + c.times.idle, 0);
}

/**
 * Compression that follows the link and the CPU. On a slow uplink the
 * packer mostly waits for the upload while cores stand idle: chunks are
 * compressed harder and fewer bytes go. When the upload takes bytes faster
 * than deflate makes them, lighter settings keep it busy, down to storing.
 * It moves one step per quarter second.
 */
export class AdaptivePace implements Pacer {
  private rung = START;
  private periodStart: number;
  private idleStart: number;
  private starvedMs = 0;
  private blockedMs = 0;

  constructor(
    private readonly now: () => number = () => performance.now(),
    private readonly idle: () => number = idleMs,
  ) {
    this.periodStart = now();
    this.idleStart = idle();
  }

  current(): Deflate {
    const elapsed = this.now() - this.periodStart;
    if (elapsed >= PERIOD_MS) {
      const idle = this.idle();
      const idleCores = (idle - this.idleStart) / elapsed;
      const { starvedMs: starved, blockedMs: blocked } = this;
      if (starved > blocked && starved >= elapsed * DOWN_SHARE) this.rung = Math.max(this.rung - 1, 0);
      else if (blocked >= elapsed * UP_SHARE && blocked >= 2 * starved && idleCores >= UP_IDLE_CORES) {
        this.rung = Math.min(this.rung + 1, LADDER.length - 1);
      }
      this.periodStart += elapsed;
      this.idleStart = idle;
      this.starvedMs = this.blockedMs = 0;
    }
    return LADDER[this.rung]!;
  }

  starved(ms: number): void {
    this.starvedMs += ms;
  }

  blocked(ms: number): void {
    this.blockedMs += ms;
  }
}
