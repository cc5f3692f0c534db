import type { ZipSource } from "./zip-writer.js";

/**
 * Text that is made as it is written: an entry's content from `pieces`,
 * which is walked once to learn its size and again as the writer reads it,
 * so a large text (the manifest of 200,000 files is 18 MB of JSON) never
 * exists whole. The writer reads in order, and reaches back at most the
 * 32 KiB of deflate's dictionary, so a little more than one read is kept.
 */
export function generatedText(pieces: () => Iterable<string>): { size: number; open: () => Promise<ZipSource> } {
  let size = 0;
  for (const piece of pieces()) size += Buffer.byteLength(piece);
  return { size, open: async () => textSource(pieces()[Symbol.iterator]()) };
}

// Pieces are joined into batches of about this size before they become bytes.
const BATCH = 64 * 1024;
const REACH_BACK = 64 * 1024;

function textSource(pieces: Iterator<string>): ZipSource {
  // Bytes [base, base + held.length) of the text.
  let base = 0;
  let held = Buffer.alloc(0);
  const more = (): boolean => {
    const batch: string[] = [];
    let length = 0;
    for (let next = pieces.next(); !next.done; next = pieces.next()) {
      batch.push(next.value);
      length += next.value.length;
      if (length >= BATCH) break;
    }
    if (!batch.length) return false;
    held = Buffer.concat([held, Buffer.from(batch.join(""))]);
    return true;
  };
  return {
    async read(position, length, target) {
      if (position < base) throw new Error("generated text read out of order");
      while (base + held.length < position + length) if (!more()) throw new Error("generated text ended early");
      const out = target ?? Buffer.allocUnsafe(length);
      held.copy(out, 0, position - base, position - base + length);
      const keepFrom = Math.max(0, position + length - REACH_BACK - base);
      held = held.subarray(keepFrom);
      base += keepFrom;
      return out.subarray(0, length);
    },
    close: async () => undefined,
  };
}
