/**
 * `.nbatch/` is nbatch's own inside archives: the inputs' manifest and the
 * agent's results.json live there. It is never uploaded from a directory and
 * never written into one; a selective download always fetches it.
 */
export const METADATA_DIR = ".nbatch";

export function isMetadata(path: string): boolean {
  return path === METADATA_DIR || path.startsWith(`${METADATA_DIR}/`);
}
