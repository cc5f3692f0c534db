import { randomBytes } from "node:crypto";
import { realpath } from "node:fs/promises";
import { PROTOCOL_VERSION } from "../protocol.js";
import { UserError } from "../errors.js";
import { scanDirectory, type Manifest, type ManifestEntry, type Stamps } from "../tree/manifest.js";
import { packZipChunks, type WrittenEntry } from "../archive/pack.js";
import { AdaptivePace } from "../archive/zip-pace.js";
import type { UploadProgress } from "../aws/multipart.js";
import { FileHashes } from "../tree/hashes.js";
import { shownPath } from "../ui/format.js";
import { readIgnoreFile } from "../tree/ignore-file.js";
import { createExcluder, type SourcedPattern } from "../tree/patterns.js";
import type { Env } from "../config/file.js";
import type { InputsPlan, Location, Placed } from "./inputs-tree.js";

/** The directory as it will be uploaded: what goes, what stays, and what is known of its files' bytes. */
export interface Inputs {
  dir: string;
  manifest: Manifest & { stamps: Stamps };
  hashes: FileHashes;
}

/**
 * The directory after the built-in exclusions, its .nbatchignore, then the
 * given ones. With `env`, the hashes kept from earlier runs are loaded
 * (tree/hashes.ts); without, none are known.
 */
export async function scanInputs(dir: string, excludeFromUpload: readonly (string | SourcedPattern)[], env?: Env): Promise<Inputs> {
  const [manifest, root] = await Promise.all([
    scanDirectory(dir, createExcluder([...readIgnoreFile(dir), ...excludeFromUpload]), { stamps: true }) as Promise<Inputs["manifest"]>,
    env ? realpath(dir).catch(() => undefined) : undefined,
  ]);
  const hashes = env && root ? await FileHashes.load(env, root, manifest.entries, manifest.stamps) : FileHashes.none(manifest.stamps.count);
  return { dir, manifest, hashes };
}

/** The SHA-256 of a file's bytes, when it is known without reading them. */
export function knownSha(inputs: Inputs, e: ManifestEntry): string | undefined {
  return inputs.hashes.get(e);
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

/** `,["<64 hex>",size,crc32,offset,end]` with every number as long as a safe integer can be. */
const INDEX_ROW_MAX = 2 + 66 + 4 * 17 + 2;

/**
 * Where this run's pack put each of its files: typed arrays by the file's
 * index in `files`, since an object, a map entry and a hex string for each
 * of 200,000 files would be tens of megabytes. The SHA-256 of what was read
 * goes to the inputs' hashes, which keep it for the next run.
 */
export class PackedFiles implements Placed {
  private readonly offsets: Float64Array;
  private readonly ends: Float64Array;
  private readonly crcs: Uint32Array;

  constructor(
    readonly id: string,
    private readonly files: readonly ManifestEntry[],
    private readonly hashes: FileHashes,
  ) {
    const n = files.length;
    [this.offsets, this.ends] = [new Float64Array(n), new Float64Array(n)];
    this.crcs = new Uint32Array(n);
  }

  add(at: WrittenEntry): void {
    const i = at.index;
    [this.offsets[i], this.ends[i], this.crcs[i]] = [at.offset, at.end, at.crc32];
    this.hashes.set(this.files[i]!, at.sha256, at.readAt);
  }

  location(i: number): Location {
    return { pack: this.id, offset: this.offsets[i]!, end: this.ends[i]!, crc32: this.crcs[i]! };
  }

  /** The pack's index (protocol-tree.ts PackIndex), as JSON. */
  index(): Buffer {
    const head = `{"protocol":${PROTOCOL_VERSION},"pack":${JSON.stringify(this.id)},"entries":[`;
    // Room for the longest row of each file, written in place: pages a row never reaches are never touched.
    const out = Buffer.allocUnsafe(head.length + this.files.length * INDEX_ROW_MAX + 2);
    let at = out.write(head, "latin1");
    for (const [i, e] of this.files.entries()) {
      const sha = this.hashes.get(e);
      if (!sha) throw new Error(`no hash of ${e.path}, which was packed`);
      at += out.write(`${i ? "," : ""}["${sha}",${e.size},${this.crcs[i]},${this.offsets[i]},${this.ends[i]}]`, at, "latin1");
    }
    at += out.write("]}", at, "latin1");
    return out.subarray(0, at);
  }
}

/** Each file of the inputs with its stamp. */
export function* stampedFiles(inputs: Inputs): Generator<[ManifestEntry, string]> {
  for (const e of inputs.manifest.entries) {
    const stamp = inputs.manifest.stamps.of(e);
    if (stamp !== undefined) yield [e, stamp];
  }
}

/** A run's pack, as it is packed: its bytes, and where each file landed once the bytes are out. */
export interface Pack {
  files: PackedFiles;
  chunks: AsyncGenerator<Buffer>;
  /** For the uploader's progress: what its parts took tells the packer how fast the link is. */
  uploaded: UploadProgress;
}

/**
 * The fresh files of a plan as one zip, each entry named by its path. Their
 * hashes are taken as they are packed (the files are read once), so the
 * next run knows them without reading them.
 */
export function packFresh(inputs: Inputs, plan: InputsPlan, id: string, onRead?: (bytes: number) => void): Pack {
  const files = new PackedFiles(id, plan.fresh, inputs.hashes);
  const pace = new AdaptivePace();
  const chunks = packZipChunks({
    root: inputs.dir,
    entries: plan.fresh,
    pace,
    onRead,
    onWritten(e, at) {
      const expected = knownSha(inputs, e);
      // Files of the same bytes share this entry: what was packed must be what was hashed.
      if (expected && expected !== at.sha256.toString("hex")) throw new UserError(`${e.path} changed while it was being packed: run again once nothing is changing the directory.`);
      files.add(at);
    },
  });
  return { files, chunks, uploaded: pace.uploaded };
}
