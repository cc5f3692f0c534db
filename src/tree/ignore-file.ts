/**
 * `.nbatchignore` at the top of the directory: gitignore-style patterns of
 * paths never to upload (large data/ and results/ folders a workflow fetches
 * or makes in the job). It is uploaded itself, like a .gitignore, and its
 * rules apply after the built-in exclusions, before the project file's and
 * --exclude-from-upload's; each keeps its line for --dry-run to show. Its
 * `!` cannot re-include a built-in exclusion (tree/patterns.ts).
 */
import { join } from "node:path";
import { readSmallTextFile } from "../config/file.js";
import type { SourcedPattern } from "./patterns.js";

export const IGNORE_FILE = ".nbatchignore";

export function readIgnoreFile(dir: string): SourcedPattern[] {
  const text = readSmallTextFile(join(dir, IGNORE_FILE), join(dir, IGNORE_FILE), `remove it, or move ${IGNORE_FILE} aside`);
  if (text === undefined) return [];
  return text
    .replace(/^\uFEFF/, "")
    .split(/\r?\n/)
    .flatMap((line, i) => (line.trim() === "" || line.startsWith("#") ? [] : [{ pattern: line, source: `${IGNORE_FILE}:${i + 1}`, project: true }]));
}
