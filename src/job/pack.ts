import { randomBytes } from "node:crypto";
import { realpath } from "node:fs/promises";
import { PROTOCOL_VERSION } from "../protocol.js";
import type { PackIndex } from "../protocol-tree.js";
import { UserError } from "../errors.js";
import { scanDirectory, type Manifest } from "../tree/manifest.js";
import { packZipChunks } from "../archive/pack.js";
import { FileHashes } from "../tree/hashes.js";
import { shownPath } from "../ui/format.js";
import { readIgnoreFile } from "../tree/ignore-file.js";
import { createExcluder, type SourcedPattern } from "../tree/patterns.js";
import type { Env } from "../config/file.js";
import type { InputsPlan, Location } from "./inputs-tree.js";

/** The directory as it will be uploaded: what goes, what stays, and what is known of its files' bytes. */
export interface Inputs {
  dir: string;
  manifest: Manifest & { stamps: Map<string, string> };
  hashes: FileHashes;
}

/**
 * The directory after the built-in exclusions, its .nbatchignore, then the
 * given ones. With `env`, the hashes kept from earlier runs are loaded
 * (tree/hashes.ts); without, none are known.
 */
export async function scanInputs(dir: string, excludeFromUpload: readonly (string | SourcedPattern)[], env?: Env): Promise<Inputs> {
  const [manifest, hashes] = await Promise.all([
    scanDirectory(dir, createExcluder([...readIgnoreFile(dir), ...excludeFromUpload]), { stamps: true }) as Promise<Inputs["manifest"]>,
    env ? realpath(dir).then((root) => FileHashes.load(env, root), () => FileHashes.empty()) : FileHashes.empty(),
  ]);
  return { dir, manifest, hashes };
}

/** The SHA-256 of a file's bytes, when it is known without reading them. */
export function knownSha(inputs: Inputs, path: string): string | undefined {
  return inputs.hashes.get(path, inputs.manifest.stamps.get(path));
}

/** Paths left out because their names cannot travel: each is said, so nothing goes missing unnoticed. */
export function warnLeftOut(inputs: Inputs, warn: (line: string) => void): void {
  for (const s of inputs.manifest.skipped) warn(`not uploading ${shownPath(s.path)}: ${s.reason}`);
}

/** The working directory must travel: else the job would have nowhere to run. */
export function checkWorkdir(inputs: Inputs, workdir: string | undefined): void {
  if (workdir === undefined || inputs.manifest.entries.some((e) => e.path === workdir && e.type === "dir")) return;
  const excluded = inputs.manifest.excluded.find((e) => workdir === e.path || workdir.startsWith(`${e.path}/`));
  const entry = inputs.manifest.entries.find((e) => e.path === workdir);
  const why = excluded
    ? `it is left out of the upload (${excluded.rule})`
    : entry?.type === "symlink"
      ? `it is a symlink (to ${entry.target}), and the command runs in a real directory`
      : entry
        ? "it is a file, not a directory"
        : "there is no such directory in it";
  throw new UserError(`cannot run in ${shownPath(workdir)} of ${inputs.dir}: ${why}; give --workdir a directory that is uploaded`);
}

/** Each path left out and the rule that left it out, for --dry-run and -v. */
export function excludedLines(inputs: Inputs): string[] {
  const { excluded } = inputs.manifest;
  return excluded.length ? [`Excluded (${excluded.length}):`, ...excluded.map((e) => `  ${shownPath(e.path)}  (${e.rule})`)] : [];
}

/** A pack's id: the run's, and a random part, so no two machines ever write the same pack. */
export function newPackId(runId: string): string {
  return `${runId}-${randomBytes(4).toString("hex")}`;
}

/** A run's pack, as it is packed: its bytes, and where each file landed once the bytes are out. */
export interface Pack {
  id: string;
  chunks: AsyncGenerator<Buffer>;
  /** By path, filled as the pack is written. */
  placed: Map<string, Location>;
  /** The pack's index, once every chunk has been taken. */
  index(): PackIndex;
}

/**
 * The fresh files of a plan as one zip, each entry named by its path. Their
 * hashes are taken as they are packed and kept (the files are read once), so
 * the next run knows them without reading them.
 */
export function packFresh(inputs: Inputs, plan: InputsPlan, id: string, onRead?: (bytes: number) => void): Pack {
  const placed = new Map<string, Location>();
  const entries: PackIndex["entries"] = [];
  const chunks = packZipChunks({
    root: inputs.dir,
    entries: plan.fresh,
    onRead,
    onWritten(e, at) {
      const expected = knownSha(inputs, e.path);
      // Files of the same bytes share this entry: what was packed must be what was hashed.
      if (expected && expected !== at.sha256) throw new UserError(`${e.path} changed while it was being packed: run again once nothing is changing the directory.`);
      placed.set(e.path, { pack: id, offset: at.offset, end: at.end, crc32: at.crc32 });
      entries.push([at.sha256, e.size, at.crc32, at.offset, at.end]);
      inputs.hashes.set(e.path, { sha256: at.sha256, stamp: inputs.manifest.stamps.get(e.path) ?? "", readAt: at.readAt });
    },
  });
  return { id, chunks, placed, index: () => ({ protocol: PROTOCOL_VERSION, pack: id, entries }) };
}
