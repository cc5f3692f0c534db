import type { IO } from "../ui/io.js";

/** What every command gets from cli.ts: the only place that reads process state. */
export interface CommandContext {
  io: IO;
  env: Readonly<Record<string, string | undefined>>;
}
