import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";

/**
 * From this many paths on, a tree's bookkeeping is most of the heap.
 * Below it, holding the heap costs more than it saves: an unchanged re-run
 * of 24,000 files took 10% longer with it.
 */
const MANY_PATHS = 50_000;
let held = false;

/**
 * V8 lets the heap grow to up to four times what is live before a full
 * collection; walking and packing a tree of 200,000 paths promotes enough
 * short-lived garbage that it reached 300 MB for 56 MB live. Once a tree is
 * that large, the heap is held to 1.2 times what is live: a full collection
 * of such a heap costs milliseconds (docs/performance.md, "Many files").
 * The flag exists on every Node line in package.json's engines.
 */
export function holdHeapFor(paths: number): void {
  if (paths >= MANY_PATHS) holdHeap();
}

/**
 * V8 grows its young generation, while a program allocates fast as walking
 * and packing many files does, from 1 MB to 16 MB a half (32 MB on Node 24
 * and later) and keeps it: memory that the 2 MB in it at any moment never
 * needed (200,000 files: 251 MB peak, 209 MB with it held; docs/performance.md,
 * "Many files"). Called first thing by the process's entry point, it holds
 * the young generation at its first size until a tree turns out small
 * (youngGenerationFor); the flag exists on every Node line in package.json's engines.
 */
export function smallYoungGeneration(): void {
  setFlagsFromString("--semi-space-growth-factor=1");
}

/**
 * Both halves of the young generation, at most, once it may grow: V8 would
 * go on doubling it as long as a run lasts, so memory would follow the
 * directory's size (the reference directory's young generation reached
 * 16 MB, four times that directory's 32 MB, and its peak RSS 20 MB more).
 */
const YOUNG_MAX = 16 * 1024 * 1024;
// How often (ms) the young generation is looked at while it may grow: it doubles only after several collections.
const YOUNG_WATCH_MS = 20;

/**
 * A whole tree's size is known: below MANY_PATHS the young generation may
 * grow again, which packs a few thousand files 5% faster, up to YOUNG_MAX.
 */
export function youngGenerationFor(paths: number): void {
  if (paths >= MANY_PATHS || held) return;
  setFlagsFromString("--semi-space-growth-factor=2");
  const watch = setInterval(() => {
    if (youngSize() < YOUNG_MAX) return;
    setFlagsFromString("--semi-space-growth-factor=1");
    clearInterval(watch);
  }, YOUNG_WATCH_MS);
  watch.unref();
}

function youngSize(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === "new_space")?.space_size ?? 0;
}

/** The same, at once: for the agent, whose tree is decoded whole before its size is known, and whose runs are long beside a collection. */
export function holdHeap(): void {
  if (held) return;
  held = true;
  setFlagsFromString("--heap-growing-percent=20");
}
