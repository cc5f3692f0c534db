import { gunzipSync, gzipSync } from "node:zlib";
import { METADATA_DIR } from "./archive/metadata.js";
import { UserError } from "./errors.js";
import { finiteNumber, is, listOf, objectOf, oneOf, orNull, text, wholeNumber, type Check } from "./schema.js";
import type { ManifestEntry } from "./tree/manifest.js";

/** The job protocol shared by the CLI and the agent (docs/protocol.md). Bump on any incompatible change. */
export const PROTOCOL_VERSION = 2;

/** Metadata entries inside nbatch's archives (archive/metadata.ts). */
export const INPUTS_MANIFEST_ENTRY = `${METADATA_DIR}/manifest.json`;
export const RESULTS_ENTRY = `${METADATA_DIR}/results.json`;

/** Environment variables the CLI sets on the job for the agent. */
export const JOB_ENV = {
  /** The protocol the job was submitted in; absent means 1. */
  protocol: "NBATCH_PROTOCOL",
  runId: "NBATCH_RUN_ID",
  inputsUrl: "NBATCH_INPUTS_URL",
  resultsUrl: "NBATCH_RESULTS_URL",
  envUrl: "NBATCH_ENV_URL",
  /** How many attempts the job may make, so only the last one deletes the env object at once. */
  attempts: "NBATCH_ATTEMPTS",
  /** "1": an attempt after the first starts from the run's latest results (--resume). */
  resume: "NBATCH_RESUME",
  /** Where the agent keeps a gzipped copy of the command's output (agent/log-copy.ts); none without it. */
  logUrl: "NBATCH_LOG_URL",
  /** For the command, not the agent: what the job was given (job/resources.ts). */
  cpus: "NBATCH_CPUS",
  memoryMiB: "NBATCH_MEMORY_MIB",
} as const;

/**
 * The agent's options, on its command line rather than in the environment:
 * an agent too old to know one refuses it (and the job fails, saying so)
 * instead of running the command in the wrong place.
 */
export function agentOptions(o: { workdir?: string }): string[] {
  return o.workdir ? ["--workdir", o.workdir] : [];
}

/** Set by AWS Batch in every job: the 1-based number of the attempt. */
export const BATCH_ATTEMPT_ENV = "AWS_BATCH_JOB_ATTEMPT";

export interface InputsManifest {
  protocol: number;
  entries: ManifestEntry[];
}

/**
 * Protocol 2's inputs, a tree: every entry of the directory, and for each
 * file of some bytes where those bytes are: `at` is [index in `packs`,
 * offset of the entry's local header, end of its data] in that pack, and
 * `crc32` what they must check to (docs/protocol.md).
 */
export interface InputsTree extends InputsManifest {
  packs: string[];
  entries: TreeEntry[];
}

export interface TreeEntry extends ManifestEntry {
  crc32?: number;
  at?: [number, number, number];
}

/** A pack's index: what each of its entries holds (sha256, size, crc32) and where it lies. */
export interface PackIndex {
  protocol: number;
  pack: string;
  entries: [sha256: string, size: number, crc32: number, offset: number, end: number][];
}

/** Pack ids name objects: letters, digits and dashes only. */
export const PACK_ID = /^[0-9A-Za-z-]{1,100}$/;

export interface Results {
  protocol: number;
  runId: string;
  /** The command's exit status; 128+n when a signal n ended it; null if it never ran. */
  exitCode: number | null;
  signal: string | null;
  /** Why the command did not run or finish normally, if it did not. */
  error?: string;
  /** Paths the job deleted; nbatch reports them but never deletes local files. */
  deleted: string[];
  /** The new and changed entries in the archive, with exact mode and mtime. */
  files: ManifestEntry[];
  /** Paths the agent could not take (unreadable, vanished, changed while packed, a name archives cannot carry), with why. */
  skipped?: { path: string; reason: string }[];
  /** Processes the command left running when it exited: what they write later is not in the archive. */
  leftRunning?: { pid: number; command: string }[];
  timings: { started: number; commandStarted?: number; commandFinished?: number; finished: number };
}

/** What the CLI and the agent take for a manifest entry: a job's archive must not hand extraction anything else. */
const MANIFEST_ENTRY: Check = objectOf(
  {
    path: text,
    type: oneOf("file", "dir", "symlink"),
    size: is((v) => Number.isSafeInteger(v) && (v as number) >= 0, "a size"),
    mtimeMs: finiteNumber,
    mode: is((v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0o7777, "a mode"),
  },
  { target: text },
);

const INPUTS_MANIFEST: Check = objectOf({ protocol: wholeNumber, entries: listOf(MANIFEST_ENTRY) });

const offset = is((v) => Number.isSafeInteger(v) && (v as number) >= 0, "an offset");

const INPUTS_TREE: Check = objectOf({
  protocol: wholeNumber,
  packs: listOf(is((v) => typeof v === "string" && PACK_ID.test(v), "a pack id")),
  entries: listOf(
    both(MANIFEST_ENTRY, objectOf({}, { crc32: is((v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff, "a CRC-32"), at: listOf(offset) })),
  ),
});

const PACK_INDEX: Check = objectOf({ protocol: wholeNumber, pack: text, entries: listOf(listOf(is((v) => typeof v === "string" || Number.isSafeInteger(v), "a field"))) });

const RESULTS: Check = objectOf(
  {
    protocol: wholeNumber,
    runId: text,
    exitCode: orNull(wholeNumber),
    signal: orNull(text),
    deleted: listOf(text),
    files: listOf(MANIFEST_ENTRY),
    timings: objectOf({ started: finiteNumber, finished: finiteNumber }, { commandStarted: finiteNumber, commandFinished: finiteNumber }),
  },
  {
    error: text,
    skipped: listOf(objectOf({ path: text, reason: text })),
    leftRunning: listOf(objectOf({ pid: wholeNumber, command: text })),
  },
);

/** The inputs archive's manifest entry, from a protocol this nbatch knows. */
export function parseInputsManifest(raw: Buffer, what: string): InputsManifest {
  return parseChecked<InputsManifest>(raw, what, INPUTS_MANIFEST);
}

/**
 * The same entry of a protocol 2 tree. Each file of some bytes must say
 * where they are, in a pack the tree names, and what they check to.
 */
export function parseInputsTree(raw: Buffer, what: string): InputsTree {
  const tree = parseChecked<InputsTree>(raw, what, INPUTS_TREE);
  for (const e of tree.entries) {
    if (e.type !== "file" || e.size === 0) continue;
    const [pack, start, end] = e.at ?? [];
    if (e.crc32 === undefined || e.at?.length !== 3 || tree.packs[pack!] === undefined || !(start! < end!)) {
      throw malformed(what, `${JSON.stringify(e.path).slice(0, 200)} does not say where its bytes are`);
    }
  }
  return tree;
}

/** A tree's object: its JSON, gzip'd (always at level 6, so the same tree is the same bytes wherever it is written). */
export function encodeTree(json: string): Buffer {
  return gzipSync(json, { level: 6 });
}

/** Larger than any tree of a directory nbatch can scan, small enough to refuse a bomb. */
const MAX_TREE_BYTES = 512 * 1024 * 1024;

/** A tree from its object, checked as parseInputsTree checks it. */
export function decodeTree(raw: Buffer, what: string): InputsTree {
  let json: Buffer;
  try {
    json = gunzipSync(raw, { maxOutputLength: MAX_TREE_BYTES });
  } catch (err) {
    throw malformed(what, `it is not a gzip'd tree (${(err as Error).message})`);
  }
  return parseInputsTree(json, what);
}

export function parsePackIndex(raw: Buffer, what: string): PackIndex {
  const index = parseChecked<PackIndex>(raw, what, PACK_INDEX);
  const wrong = index.entries.find((e) => e.length !== 5 || typeof e[0] !== "string" || e.slice(1).some((n) => typeof n !== "number"));
  if (wrong) throw malformed(what, "an entry is not [sha256, size, crc32, offset, end]");
  return index;
}

/**
 * results.json from a results archive, which the job wrote and so is
 * untrusted: its shape is checked, and it must be the run's own, not an
 * archive from another run put in its place.
 */
/**
 * Which entries of a results archive to take: all but those results.json
 * lists as skipped (a file the agent cut short because it changed while
 * packed), whose cut-off bytes must never land over a local file.
 */
export function notSkipped(results: Pick<Results, "skipped">): (path: string) => boolean {
  const skipped = new Set((results.skipped ?? []).map((s) => s.path));
  return (path) => !skipped.has(path);
}

export function parseResults(raw: Buffer, what: string, runId: string): Results {
  const results = parseChecked<Results>(raw, what, RESULTS);
  if (results.runId !== runId) {
    throw new UserError(`${what} belongs to run ${JSON.stringify(results.runId).slice(0, 80)}, not to this job's run ${runId}: it was replaced or copied there, so nothing was applied`);
  }
  return results;
}

function parseChecked<T>(raw: Buffer, what: string, check: Check): T {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString("utf8"));
  } catch (err) {
    throw malformed(what, `it is not JSON (${(err as Error).message})`);
  }
  // A newer protocol may have reshaped it: say so before judging its shape.
  const version = (value as { protocol?: unknown } | null)?.protocol;
  if (typeof version === "number") checkProtocol(version, what);
  const wrong = check(value, "");
  if (wrong) throw malformed(what, wrong);
  return value as T;
}

function malformed(what: string, why: string): UserError {
  return new UserError(`${what} is malformed (${why}): it was not written by a compatible version of nbatch`);
}

function both(a: Check, b: Check): Check {
  return (value, at) => a(value, at) ?? b(value, at);
}

/** Archives from a newer nbatch may mean things this one does not know: say so rather than guess. */
export function checkProtocol(version: number | undefined, what: string): void {
  if ((version ?? 1) > PROTOCOL_VERSION) {
    throw new UserError(`${what} uses job protocol ${version}, newer than this nbatch's ${PROTOCOL_VERSION}: upgrade nbatch (here, or in the job image)`);
  }
}
