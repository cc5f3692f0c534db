import { availableParallelism } from "node:os";
import { constants } from "node:zlib";
import { bestBlend, SettingRecord, type Blend, type Cost } from "./zip-pace-model.js";

/** zlib settings for one chunk; level 0 means the chunk is stored. */
export interface Deflate {
  level: number;
  strategy?: number;
}

/**
 * The settings the pacer picks from. Huffman-only coding is the cheapest
 * that shrinks anything and is as small as level 6 on data without
 * repeats, such as DNA; level 1 finds short repeats fast; levels 6 and 9
 * find the long ones (a genome that repeats, with a few changes, from one
 * record to the next), which level 1 mostly misses (docs/performance.md).
 */
export const LADDER: readonly Deflate[] = [
  { level: 0 },
  { level: 1, strategy: constants.Z_HUFFMAN_ONLY },
  { level: 1 },
  { level: 6 },
  { level: 9 },
];
// What each setting is taken to do until measured: the reference tables on
// one core (bench --sweep). Storing costs nothing and adds a few bytes of
// framing per 64 KiB, which needs no measuring.
const GUESSES = [
  { ratio: 1.0001, msPerByte: 0 },
  { ratio: 0.62, msPerByte: 1000 / (230 * 1024 * 1024) },
  { ratio: 0.44, msPerByte: 1000 / (100 * 1024 * 1024) },
  { ratio: 0.41, msPerByte: 1000 / (42 * 1024 * 1024) },
  { ratio: 0.4, msPerByte: 1000 / (15 * 1024 * 1024) },
];

/**
 * Chooses how hard each piece is compressed. The writer says how each
 * deflate went, how long the archive's reader waited for deflate output,
 * how long the packer waited for the reader, and how much the reader took.
 */
export interface Pacer {
  /** The setting for a piece of `bytes` input bytes; `fileStart` when it is a file's first. */
  choose(bytes: number, fileStart: boolean): Deflate;
  /**
   * A deflate of `bytes` with `setting` starts (`unprimed`: the first chunk
   * of a file of several, with no history before it); the returned function
   * hears its output size when it ends.
   */
  deflating(setting: Deflate, bytes: number, unprimed?: boolean): (outBytes: number) => void;
  starved(ms: number): void;
  blocked(ms: number): void;
  /** The reader took `bytes` of the archive. */
  sent(bytes: number): void;
  /** The uploader has sent `bytes` in all, with a part in flight for `busyMs` of the time (src/aws/multipart.ts). */
  uploaded(bytes: number, busyMs: number): void;
}

export function fixedPace(level: number): Pacer {
  const setting = { level };
  const ignore = () => undefined;
  return { choose: () => setting, deflating: () => ignore, starved: ignore, blocked: ignore, sent: ignore, uploaded: ignore };
}

/** The machine as the pacer sees it; a test passes its own. */
export interface PaceClock {
  now(): number;
  /** Deflates that can run at once: the machine's CPUs, and no more than libuv's 4 threads. */
  cores: number;
}

const systemClock: PaceClock = { now: () => performance.now(), cores: Math.min(availableParallelism(), 4) };

const MiB = 1024 * 1024;
// Measurements are taken over periods of at least this long.
const PERIOD_MS = 250;
// Pieces smaller than this are mostly small files, each its own deflate: what
// they cost and save is kept apart from the chunks of large files.
const SMALL_PIECE = 64 * 1024;
// Until the link has been seen, it is taken to be an uplink of this speed
// (bytes per ms): the uploader holds 24 MiB in part buffers before the link
// can push back, and compressing that much when the link turns out fast
// costs less than sending it stored down a slow one.
const LINK_PRIOR = (24 * MiB) / 1000;
// The uploader's part buffers: two parts in flight and one filling (src/aws/multipart.ts).
const PART = 8 * MiB;
const UPLOADER_BUFFER = 3 * PART;
// A wait on the reader shorter than this is the event loop's doing.
const WAIT_MS = 5;
// The writer hands out up to this much at a time, so a part's worth of
// what the reader takes can be this far from the part size.
const HANDED = 1 * MiB;
// Each measure of the link counts this much less at the next.
const LINK_DECAY = 0.75;
// The reader waited on the packer this share of a period: the packer was the limit.
const PACKER_BOUND = 0.25;
// A setting not in use is tried again after RECHECK pieces, times the
// square of how many times slower than the best it was (one far off is
// tried rarely); each try that finds the data unchanged doubles the wait,
// up to RECHECK_MAX. At most one piece in CHECK_GAP goes to a try.
const RECHECK = 16;
const RECHECK_MAX = 256;
const CHECK_GAP = 4;
const HUFFMAN = 1;

/** One kind of piece (chunks of large files, or small files): what each setting did on it lately, and the blend in use. */
class PieceClass {
  readonly records = GUESSES.map((g, i) => new SettingRecord(g, i === 0));
  private readonly waits = GUESSES.map(() => RECHECK);
  private blend: Blend = { a: 0, b: 0, share: 0, time: Number.POSITIVE_INFINITY };
  private due: number[] = [];
  private credit = 0;
  private sinceTry = 0;

  /**
   * The next piece's rung: a setting due for a try, else the blend's,
   * alternated by credit. While everything is stored nothing is measured,
   * so the first piece of each file tries the cheapest compression.
   */
  next(fileStart: boolean): number {
    for (const r of this.records) r.since += 1;
    this.sinceTry += 1;
    const storing = this.blend.a === 0 && (this.blend.b === 0 || this.blend.share === 0);
    const probe = fileStart && storing && this.records[HUFFMAN]!.since > CHECK_GAP ? HUFFMAN : undefined;
    const rung = probe ?? this.tryNow() ?? this.blended();
    this.records[rung]!.since = 0;
    return rung;
  }

  private blended(): number {
    this.credit += this.blend.share;
    if (this.credit < 1) return this.blend.a;
    this.credit -= 1;
    return this.blend.b;
  }

  /** A setting never tried is tried at once; one not used for long, now and then. */
  private tryNow(): number | undefined {
    let stalest: number | undefined;
    for (const [i, r] of this.records.entries()) {
      if (r.since === Number.POSITIVE_INFINITY) return i;
      if (!r.exact && r.since >= this.due[i]! && (stalest === undefined || r.since > this.records[stalest]!.since)) stalest = i;
    }
    if (stalest === undefined || this.sinceTry < CHECK_GAP) return undefined;
    this.sinceTry = 0;
    this.waits[stalest] = Math.min(RECHECK_MAX, 2 * this.waits[stalest]!);
    return stalest;
  }

  /** A piece compressed unlike the record said: the data changed, and every setting is tried again soon. */
  changed(measured: number): void {
    this.waits.fill(RECHECK);
    for (const [i, r] of this.records.entries()) {
      if (r.exact || i === measured) continue;
      r.outdated();
      r.since = Math.max(r.since, RECHECK_MAX);
    }
  }

  rethink(cores: number, linkBytesPerMs: number): void {
    const costs: Cost[] = this.records.map((r) => ({ cpu: r.msPerByte / cores, link: r.ratio / linkBytesPerMs }));
    this.blend = bestBlend(costs);
    const slower = (c: Cost) => Math.max(1, Math.max(c.cpu, c.link) / this.blend.time);
    this.due = costs.map((c, i) => Math.min(RECHECK_MAX, this.waits[i]! * slower(c) ** 2));
  }
}

/**
 * Compression that weighs, piece by piece, what each setting saves in bytes
 * against what it costs in CPU. It measures the ratio and CPU time of each
 * setting on recent pieces (trying the others now and then, and soon when
 * the data changes, CPU time being what a deflate took of a core as the
 * machine gave it) and the link's speed (what the reader takes from one
 * wait on the uploader's full buffers to the next); then it picks the setting,
 * or blend of two, that sends a byte in the least time when packing and
 * the upload overlap. So redundant data on a slow link is compressed hard,
 * data that does not shrink is stored, and a fast link with few cores
 * gets the cheap settings.
 */
export class AdaptivePace implements Pacer {
  private readonly large = new PieceClass();
  private readonly small = new PieceClass();
  private link = LINK_PRIOR;
  private readonly cores: number;
  private periodStart: number;
  private starvedMs = 0;
  private sentBytes = 0;
  private totalSent = 0;
  // The link as measured between waits on it: bytes and time, older spans counting less.
  private linkBytes = 0;
  private linkMs = 0;
  // The end of the last wait on the reader, and what it had taken by then.
  private lastWait: { at: number; sent: number } | undefined;
  // The uploader has said what its parts took.
  private partsSeen = false;
  private waitedInPeriod = false;
  // What the uploader's buffers hold, by our reckoning of the link.
  private queued = 0;
  // A deflate's cost is its time in flight, shared with the others when
  // more are in flight than can run at once: so one piece's cost is what it
  // took of a core as this machine gave it, however busy, and the cores can
  // deliver `cores` such pieces at a time.
  private inFlight = 0;
  private perDeflateMs = 0;
  private lastTick: number;

  constructor(private readonly clock: PaceClock = systemClock) {
    this.periodStart = this.lastTick = clock.now();
    this.cores = clock.cores;
    this.rethink();
  }

  choose(bytes: number, fileStart: boolean): Deflate {
    if (this.clock.now() - this.periodStart >= PERIOD_MS) this.endPeriod();
    return LADDER[this.classOf(bytes).next(fileStart)]!;
  }

  deflating(setting: Deflate, bytes: number, unprimed = false): (outBytes: number) => void {
    this.tick();
    this.inFlight += 1;
    const started = this.perDeflateMs;
    return (outBytes) => {
      this.tick();
      this.inFlight -= 1;
      const cls = this.classOf(bytes);
      const rung = LADDER.findIndex((s) => s.level === setting.level && s.strategy === setting.strategy);
      if (rung < 0 || bytes === 0) return;
      if (cls.records[rung]!.add(bytes, outBytes, this.perDeflateMs - started, unprimed)) cls.changed(rung);
      cls.rethink(this.cores, this.link);
    };
  }

  starved(ms: number): void {
    this.starvedMs += ms;
  }

  /**
   * The uploader makes the packer wait once its buffers are full, until a
   * part has gone out; so from one such wait's end to the next, the reader
   * took what the link sent meanwhile: a part, or two when a wait was too
   * short to see. A wait before the buffers can have filled (in all, or
   * since the last) is the event loop's delay, not the link's; more than
   * two parts between waits means the link ran dry for some of the time.
   */
  blocked(ms: number): void {
    const taken = this.totalSent - (this.lastWait?.sent ?? 0);
    if (ms < WAIT_MS || taken < (this.lastWait ? PART : UPLOADER_BUFFER) - HANDED) return;
    const now = this.clock.now();
    if (this.lastWait && taken <= 2 * PART + HANDED) {
      this.linkBytes = this.linkBytes * LINK_DECAY + taken;
      this.linkMs = this.linkMs * LINK_DECAY + (now - this.lastWait.at);
      this.link = this.linkBytes / this.linkMs;
    }
    this.lastWait = { at: now, sent: this.totalSent };
    this.waitedInPeriod = true;
  }

  sent(bytes: number): void {
    this.sentBytes += bytes;
    this.totalSent += bytes;
  }

  /**
   * Until the packer first waits on the uploader, the link is what the
   * uploader's parts took in flight: known from the first part on, where
   * waiting for the buffers to fill would leave a fast link taken for the
   * prior's slow one for as long as 24 MiB take to pack for it. A part that
   * ends while the next is in flight counts the next one's time and not its
   * bytes, so this errs low, by at most half, and only at first. Bound, to
   * be handed to the uploader as its progress callback.
   */
  readonly uploaded = (bytes: number, busyMs: number): void => {
    if (this.lastWait || busyMs <= 0) return;
    this.partsSeen = true;
    this.link = bytes / busyMs;
    this.rethink();
  };

  private classOf(bytes: number): PieceClass {
    return bytes < SMALL_PIECE ? this.small : this.large;
  }

  private tick(): void {
    const now = this.clock.now();
    const dt = now - this.lastTick;
    if (this.inFlight > 0) this.perDeflateMs += dt * Math.min(1, this.cores / this.inFlight);
    this.lastTick = now;
  }

  private endPeriod(): void {
    this.tick();
    const now = this.clock.now();
    const elapsed = now - this.periodStart;
    this.queued = Math.max(0, this.queued + this.sentBytes - this.link * elapsed);
    if (this.waitedInPeriod) {
      // The buffers were full, but for the part that just went out.
      this.queued = UPLOADER_BUFFER - PART;
    } else if (this.queued > UPLOADER_BUFFER) {
      // The uploader took more than its buffers hold beyond what the link
      // was thought to send, without making the packer wait: the link is faster.
      this.link += (this.queued - UPLOADER_BUFFER) / elapsed;
      this.queued = UPLOADER_BUFFER;
    } else if (!this.lastWait && !this.partsSeen && this.totalSent > UPLOADER_BUFFER && this.starvedMs >= PACKER_BOUND * elapsed) {
      // Never yet waited on, and no word from the uploader (a consumer that is
      // not one, such as a file): the link may be far faster than the prior.
      // Raised boldly (up to four times a period) until the packer waits on it:
      // a guess too high costs at most the uploader's buffers of lightly packed
      // bytes. Once waited on, only evidence raises it, for the reader waiting
      // on the packer says nothing of the link while the uploader's buffers have room.
      const taken = this.sentBytes / Math.max(elapsed - this.starvedMs, 1);
      this.link = Math.max(this.link, Math.min(4 * this.link, taken));
    }
    this.periodStart = now;
    this.starvedMs = this.sentBytes = 0;
    this.waitedInPeriod = false;
    this.rethink();
  }

  private rethink(): void {
    this.large.rethink(this.cores, this.link);
    this.small.rethink(this.cores, this.link);
  }
}
