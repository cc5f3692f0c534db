import { deflateRawSync } from "node:zlib";
import { crc32 } from "../../src/archive/crc32.js";

export interface RawEntry {
  name: string;
  data?: Buffer | string;
  /** Full st_mode including the file type bits; 0o100644 by default. */
  mode?: number;
  deflate?: boolean;
  /** Lie in the headers. */
  crc?: number;
  size?: number;
  flags?: number;
  method?: number;
}

/**
 * A minimal zip writer for hostile archives: it writes exactly the names,
 * modes, sizes and checksums it is given, which archiver would sanitize.
 */
export function buildZip(entries: readonly RawEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, "utf8");
    const raw = Buffer.from(e.data ?? "");
    const body = e.deflate ? deflateRawSync(raw) : raw;
    const method = e.method ?? (e.deflate ? 8 : 0);
    const crc = e.crc ?? crc32(raw);
    const size = e.size ?? raw.length;
    const flags = (e.flags ?? 0) | 0x800;
    const dosTime = (12 << 11) | (30 << 5);
    const dosDate = ((2024 - 1980) << 9) | (5 << 5) | 17;

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(dosTime, 10);
    local.writeUInt16LE(dosDate, 12);
    local.writeUInt32LE(crc >>> 0, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, body);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(dosTime, 12);
    central.writeUInt16LE(dosDate, 14);
    central.writeUInt32LE(crc >>> 0, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE((((e.mode ?? 0o100644) << 16) >>> 0), 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);

    offset += local.length + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/**
 * Stands for the run id in a results archive's results.json; the hostile
 * agent (hostile-agent.mjs) writes the job's real run id over it, which has
 * the same length, and fixes the entry's CRC.
 */
export const RUN_ID_PLACEHOLDER = "@@nbatch-run-id-placeholder-@@@@@@@@";

export interface ResultsOptions {
  /** The command's exit status recorded in results.json (default 0). */
  exitCode?: number;
  deleted?: string[];
  /** Makes results.json lie or break: what it returns is written instead (a string as it is). */
  edit?: (results: Record<string, unknown>) => unknown;
}

/**
 * A results archive as the agent uploads it: a valid .nbatch/results.json
 * (stored, so the placeholder can be patched) followed by the given
 * entries, exactly as spelled, however hostile.
 */
export function resultsArchive(entries: readonly RawEntry[], opts: ResultsOptions = {}): Buffer {
  const now = Date.now();
  const results = {
    protocol: 1,
    runId: RUN_ID_PLACEHOLDER,
    exitCode: opts.exitCode ?? 0,
    signal: null,
    deleted: opts.deleted ?? [],
    // As the agent lists them: every file and link it sends (results are taken only as listed).
    files: entries
      .filter((e) => [0o100000, 0o120000].includes((e.mode ?? 0o100644) & 0o170000))
      .map((e) => {
        const link = ((e.mode ?? 0) & 0o170000) === 0o120000;
        return { path: e.name, type: link ? "symlink" : "file", size: e.size ?? Buffer.byteLength(e.data ?? ""), mtimeMs: now, mode: (e.mode ?? 0o644) & 0o7777, ...(link ? { target: e.data ?? "" } : {}) };
      }),
    timings: { started: now, finished: now },
  };
  const edited = opts.edit ? opts.edit(results) : results;
  return buildZip([{ name: ".nbatch/results.json", data: typeof edited === "string" ? edited : JSON.stringify(edited) }, ...entries]);
}
