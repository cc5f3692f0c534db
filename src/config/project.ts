/**
 * The project file: nbatch.ini at the top of the directory `nbatch build`
 * runs over, committed and uploaded with it. It says what the work needs
 * (its command, where in the tree it runs, vCPUs, memory, image, what
 * travels); a setting the table does not mark as a project's (where data
 * goes and what guards it, which job definition and queue, how the agent
 * starts, the user's own limits) is refused with its line: a repository
 * anyone may have written must not choose those for whoever runs it.
 */
import { join } from "node:path";
import { displayPath, readConfigFile, type ConfigFile, type Env } from "./file.js";
import type { SettingRow } from "./table.js";

export const PROJECT_FILE = "nbatch.ini";

export interface ProjectFile {
  path: string;
  /** As people write it: ~/wf/nbatch.ini. */
  shown: string;
  values: ConfigFile;
}

export function projectFilePath(dir: string): string {
  return join(dir, PROJECT_FILE);
}

/** The project file of dir, or undefined when it has none. */
export function readProjectFile(dir: string, env: Env, userConfigShown: string): ProjectFile | undefined {
  const path = projectFilePath(dir);
  const refuse = (row: SettingRow) =>
    row.project
      ? undefined
      : `${row.name} is yours to choose, not a project's, so a project file cannot set it: set it in ${userConfigShown} (nbatch config set ${row.name} ...) or with ${row.env[0]}`;
  const values = readConfigFile(path, env, { fix: `remove it, or move ${PROJECT_FILE} aside`, refuse });
  return values && { path, shown: displayPath(path, env), values };
}
