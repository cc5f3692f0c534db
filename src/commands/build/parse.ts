import { parseDurationSeconds, parseMemoryMiB } from "../../config/units.js";
import type { RunResources } from "../../job/platform.js";
import { UsageError, UserError } from "../../errors.js";
import type { CommandContext } from "../context.js";

/** The values of build's repeatable and numeric flags, checked before anything runs (exit 2). */

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** --env NAME=VALUE, or NAME alone to pass this shell's value. */
export function resolveEnv(specs: readonly string[], env: CommandContext["env"]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    const name = eq < 0 ? spec : spec.slice(0, eq);
    if (!ENV_NAME.test(name)) throw new UsageError(`--env ${spec}: "${name}" is not a valid variable name (letters, digits and _, not starting with a digit)`);
    const value = eq < 0 ? env[name] : spec.slice(eq + 1);
    if (value === undefined) throw new UserError(`--env ${name}: ${name} is not set in your environment; set it or pass --env ${name}=VALUE`);
    out[name] = value;
  }
  return out;
}

export function parseRetries(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 9) throw new UsageError(`invalid --retries "${text}": use a whole number from 0 to 9 (Batch allows 10 attempts)`);
  return n;
}

/** attemptDurationSeconds: whole seconds, at least 60, in an Integer field (AWS Batch API reference, JobTimeout). */
const TIMEOUT_BOUNDS = { minSeconds: 60, maxSeconds: 2 ** 31 - 1, owner: "Batch's" };

export function parseTimeout(text: string): number {
  return Math.ceil(parseDurationSeconds(text, "--timeout", TIMEOUT_BOUNDS));
}

/**
 * Batch's tag rules (AWS Batch user guide, "Tag restrictions"): at most 50
 * per resource, and nbatch adds nbatch:run-id; keys of 1 to 128 and values
 * of up to 256 Unicode characters, of letters, digits, spaces and + - = . _ : / @;
 * the aws: prefix is reserved for keys and values alike.
 */
const MAX_USER_TAGS = 49;
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const chars = (s: string) => [...s].length;

export function parseTags(specs: readonly string[]): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    const key = eq < 0 ? spec : spec.slice(0, eq);
    const value = eq < 0 ? "" : spec.slice(eq + 1);
    const invalid = (why: string) => new UsageError(`invalid --tag "${spec}": ${why}`);
    if (eq < 0 || chars(key) < 1 || chars(key) > 128 || chars(value) > 256) throw invalid("use KEY=VALUE (key up to 128 characters, value up to 256)");
    if (!TAG_TEXT.test(key) || !TAG_TEXT.test(value)) throw invalid("Batch takes only letters, digits, spaces and + - = . _ : / @ in tags");
    if (/^(aws|nbatch):/i.test(key)) throw invalid("keys starting with aws: or nbatch: are reserved");
    if (/^aws:/i.test(value)) throw invalid("values starting with aws: are reserved");
    tags[key] = value;
  }
  if (Object.keys(tags).length > MAX_USER_TAGS) {
    throw new UsageError(`${Object.keys(tags).length} --tag keys given: Batch allows 50 tags on a job and nbatch adds nbatch:run-id, so give at most ${MAX_USER_TAGS}`);
  }
  return tags;
}

const SECRET_SOURCE = /^arn:aws[a-z-]*:(secretsmanager|ssm):[a-z0-9-]+:\d{12}:(secret:|parameter\/).+/;

/** --secret NAME=ARN: a Secrets Manager secret or SSM parameter, injected by Batch. */
export function parseSecrets(specs: readonly string[]): { name: string; valueFrom: string }[] {
  return specs.map((spec) => {
    const eq = spec.indexOf("=");
    const name = spec.slice(0, Math.max(eq, 0));
    const valueFrom = spec.slice(eq + 1);
    if (eq < 0 || !ENV_NAME.test(name) || !SECRET_SOURCE.test(valueFrom)) {
      throw new UsageError(`invalid --secret "${spec.slice(0, Math.max(eq, 0)) || spec}": use NAME=<Secrets Manager secret ARN or SSM parameter ARN>`);
    }
    return { name, valueFrom };
  });
}

/** A whole number from min to max, for a flag. */
export function parseWhole(text: string, flag: string, min: number, max: number, hint: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < min || n > max) throw new UsageError(`invalid ${flag} "${text}": ${hint}`);
  return n;
}

/** --gpus, --disk, --arch and --shm-size, as asked; where they can apply is checked against the platform (job/platform.ts). */
export function parseResources(f: { gpus?: string; disk?: string; arch?: string; shmSize?: string }): RunResources {
  const size = (text: string, flag: string) => {
    try {
      return parseMemoryMiB(text);
    } catch {
      throw new UsageError(`invalid ${flag} "${text}": use a size such as 50GiB (a bare number is MiB)`);
    }
  };
  const arch = f.arch?.trim().toLowerCase().replace("aarch64", "arm64").replace("amd64", "x86_64");
  if (arch !== undefined && arch !== "x86_64" && arch !== "arm64") throw new UsageError(`invalid --arch "${f.arch}": use x86_64 or arm64`);
  return {
    ...(f.gpus !== undefined ? { gpus: parseWhole(f.gpus, "--gpus", 1, 64, "use a whole number of GPUs, 1 or more") } : {}),
    ...(f.disk !== undefined ? { diskGiB: Math.ceil(size(f.disk, "--disk") / 1024) } : {}),
    ...(arch ? { arch } : {}),
    ...(f.shmSize !== undefined ? { sharedMemoryMiB: size(f.shmSize, "--shm-size") } : {}),
  };
}
