import type { Readable } from "node:stream";
import { INPUTS_MANIFEST_ENTRY, type InputsManifest } from "../protocol.js";
import { fingerprint, PROTOCOL_VERSION, scanDirectory, type Manifest } from "../tree/manifest.js";
import { packZip, packZipChunks, type PackOptions } from "../archive/pack.js";
import { shownPath } from "../ui/format.js";
import { createExcluder } from "../tree/patterns.js";

/** The directory as it will be uploaded: what goes, what stays, and its key. */
export interface Inputs {
  dir: string;
  manifest: Manifest;
  fingerprint: string;
}

export async function scanInputs(dir: string, excludeFromUpload: readonly string[]): Promise<Inputs> {
  const manifest = await scanDirectory(dir, createExcluder(excludeFromUpload));
  return { dir, manifest, fingerprint: fingerprint(manifest.entries) };
}

/** Paths left out because their names cannot travel: each is said, so nothing goes missing unnoticed. */
export function warnLeftOut(inputs: Inputs, warn: (line: string) => void): void {
  for (const s of inputs.manifest.skipped) warn(`not uploading ${shownPath(s.path)}: ${s.reason}`);
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
  const meta: InputsManifest = { protocol: PROTOCOL_VERSION, entries: inputs.manifest.entries };
  return {
    root: inputs.dir,
    entries: inputs.manifest.entries,
    extra: [{ name: INPUTS_MANIFEST_ENTRY, data: JSON.stringify(meta) }],
    onRead,
  };
}
