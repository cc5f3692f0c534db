import type { Readable } from "node:stream";
import { INPUTS_MANIFEST_ENTRY, PROTOCOL_VERSION, type InputsManifest } from "../protocol.js";
import { createHash } from "node:crypto";
import { UserError } from "../errors.js";
import { scanDirectory, type Manifest, type ManifestEntry } from "../tree/manifest.js";
import { comparePaths } from "../tree/paths.js";
import { packZip, packZipChunks, type PackOptions } from "../archive/pack.js";
import { shownPath } from "../ui/format.js";
import { readIgnoreFile } from "../tree/ignore-file.js";
import { createExcluder, type SourcedPattern } from "../tree/patterns.js";

/** The directory as it will be uploaded: what goes, what stays, and its key. */
export interface Inputs {
  dir: string;
  manifest: Manifest;
  fingerprint: string;
}

/** The directory after the built-in exclusions, its .nbatchignore, then the given ones. */
export async function scanInputs(dir: string, excludeFromUpload: readonly (string | SourcedPattern)[]): Promise<Inputs> {
  const manifest = await scanDirectory(dir, createExcluder([...readIgnoreFile(dir), ...excludeFromUpload]));
  return { dir, manifest, fingerprint: fingerprint(manifest.entries) };
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

/** The inputs archive as a stream, with the exact manifest inside for the agent. */
export function packInputs(inputs: Inputs, onRead?: (bytes: number) => void): Readable {
  return packZip(inputsPackOptions(inputs, onRead));
}

/** The same archive as lent chunks, for the uploader, which copies each into its part buffers. */
export function packInputChunks(inputs: Inputs, onRead?: (bytes: number) => void): AsyncGenerator<Buffer> {
  return packZipChunks(inputsPackOptions(inputs, onRead));
}

function inputsPackOptions(inputs: Inputs, onRead?: (bytes: number) => void): PackOptions {
  const { entries } = inputs.manifest;
  return { root: inputs.dir, entries, extra: [{ name: INPUTS_MANIFEST_ENTRY, text: () => manifestJson(entries) }], onRead };
}

/**
 * JSON.stringify of the InputsManifest, one entry at a time: for 200,000
 * files the whole text would be 18 MB held through the packing, twice over
 * as a string and its bytes.
 */
export function* manifestJson(entries: readonly ManifestEntry[]): Generator<string> {
  yield `{"protocol":${JSON.stringify(PROTOCOL_VERSION satisfies InputsManifest["protocol"])},"entries":[`;
  for (const [i, e] of entries.entries()) yield (i ? "," : "") + JSON.stringify(e);
  yield "]}";
}

/** sha256 over the protocol version and one canonical line per entry, order-independent. */
export function fingerprint(entries: readonly ManifestEntry[]): string {
  const hash = createHash("sha256").update(`nbatch-manifest ${PROTOCOL_VERSION}\n`);
  for (const e of [...entries].sort((a, b) => comparePaths(a.path, b.path))) {
    // A directory's mtime moves whenever a child is added or removed, which
    // the child entries already capture; leaving it out keeps the key stable.
    const mtime = e.type === "dir" ? 0 : e.mtimeMs;
    hash.update(JSON.stringify([e.path, e.type, e.size, mtime, e.mode, e.target ?? null]) + "\n");
  }
  return hash.digest("hex");
}
