/**
 * Parsers for setting values: sizes, vCPUs, durations, bucket locations and
 * command lines. Each throws InvalidValueError, a UsageError that keeps its
 * parts so the resolver can say where a bad value came from.
 */
import { UsageError } from "../errors.js";
import type { BucketLocation } from "./settings.js";

export class InvalidValueError extends UsageError {
  constructor(
    readonly what: string,
    readonly value: string,
    readonly hint: string,
  ) {
    super(`invalid ${what} ${JSON.stringify(value)}: ${hint}`);
  }
}

const NUMBER = String.raw`(\d+(?:\.\d*)?|\.\d+)`;
const MiB = 1024 * 1024;
const BYTES_PER_UNIT: Record<string, number> = {
  "": MiB,
  k: 1024, kib: 1024, kb: 1e3,
  m: MiB, mib: MiB, mb: 1e6,
  g: 1024 * MiB, gib: 1024 * MiB, gb: 1e9,
  t: MiB * MiB, tib: MiB * MiB, tb: 1e12,
};

/** A size in MiB, rounded up: "4096" (MiB), "15GiB", "7200MB", "1.5G". */
export function parseMemoryMiB(text: string): number {
  const match = new RegExp(`^${NUMBER}\\s*([a-z]*)$`, "i").exec(text.trim());
  const perUnit = match && BYTES_PER_UNIT[match[2]!.toLowerCase()];
  const value = match ? Number(match[1]) : NaN;
  if (!perUnit || !(value > 0)) {
    throw new InvalidValueError("memory", text, "use a size such as 15GiB, 7200MB or 4096 (MiB)");
  }
  // The tolerance absorbs float noise such as 0.3 GiB = 307.20000000000005 MiB.
  return Math.ceil((value * perUnit) / MiB - 1e-9);
}

/** A positive vCPU count; fractions are allowed because Fargate takes 0.25 or 0.5. */
export function parseCpus(text: string): number {
  const value = new RegExp(`^${NUMBER}$`).test(text.trim()) ? Number(text) : NaN;
  if (!(value > 0)) throw new InvalidValueError("vCPU count", text, "use a positive number such as 4 or 0.25");
  return value;
}

/** A whole number, at least 1: "100000". */
export function parseCount(text: string, what: string): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!(Number.isSafeInteger(value) && value >= 1)) throw new InvalidValueError(what, text, "use a whole number such as 100000");
  return value;
}

const DURATION = new RegExp(`^(?:${NUMBER}d)?(?:${NUMBER}h)?(?:${NUMBER}m)?(?:${NUMBER}s?)?$`, "i");
const SECONDS_PER_PART = [86400, 3600, 60, 1];

/** What a duration may be: every duration setting has both bounds, so none can overflow a timer or an API field. */
export interface DurationBounds {
  minSeconds: number;
  maxSeconds: number;
  /** Whose bounds they are, for the message: "Batch's". */
  owner?: string;
}

/** Seconds in "90", "90s", "15m", "2h", "1h30m" or "1d", within bounds. */
export function parseDurationSeconds(text: string, what: string, bounds: DurationBounds): number {
  const match = DURATION.exec(text.trim());
  const parts = match ? match.slice(1) : [];
  const seconds = parts.reduce((sum, part, i) => sum + (part ? Number(part) * SECONDS_PER_PART[i]! : 0), 0);
  if (!(seconds > 0)) throw new InvalidValueError(what, text, "use a duration such as 90, 90s, 15m, 2h or 1h30m");
  const owner = bounds.owner ? `, ${bounds.owner}` : "";
  if (seconds < bounds.minSeconds) throw new InvalidValueError(what, text, `use at least ${formatLimit(bounds.minSeconds)}${owner} minimum`);
  if (seconds > bounds.maxSeconds) throw new InvalidValueError(what, text, `use at most ${formatLimit(bounds.maxSeconds)}${owner} maximum`);
  return seconds;
}

function formatLimit(seconds: number): string {
  const units: [number, string][] = [[86400, "d"], [3600, "h"], [60, "m"]];
  const [size, unit] = units.find(([n]) => seconds >= n && seconds % n === 0) ?? [1, " seconds"];
  return `${seconds / size}${unit}`;
}

/**
 * Faster than 0.1 s would only burn API quota; slower than an hour, a
 * finished job waits that long to be told. The bound also keeps every wait
 * built on it (backoff is up to 6 intervals) far below setTimeout's limit of
 * 2^31-1 ms, past which a timer fires at once: 30d was a 1 ms loop.
 */
const POLL_BOUNDS: DurationBounds = { minSeconds: 0.1, maxSeconds: 3600 };

/** The DescribeJobs interval, in milliseconds. */
export function parsePollIntervalMs(text: string): number {
  return Math.round(parseDurationSeconds(text, "poll interval", POLL_BOUNDS) * 1000);
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const IP_ADDRESS = /^\d+\.\d+\.\d+\.\d+$/;

/** "s3://bucket/prefix/", "bucket" or "bucket/some/prefix". */
export function parseBucket(text: string): BucketLocation {
  const invalid = (why: string) =>
    new InvalidValueError("S3 bucket", text, `${why}; use s3://bucket/prefix, such as s3://my-lab-nbatch/jobs`);
  const trimmed = text.trim();
  const scheme = /^([a-z0-9+.-]*):\/\//i.exec(trimmed);
  if (scheme && scheme[1]!.toLowerCase() !== "s3") throw invalid("only s3:// locations are supported");
  const rest = scheme ? trimmed.slice(scheme[0].length) : trimmed;
  const slash = rest.indexOf("/");
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const prefix = slash < 0 ? "" : rest.slice(slash).replace(/^\/+|\/+$/g, "");
  if (!BUCKET_NAME.test(bucket) || bucket.includes("..") || IP_ADDRESS.test(bucket)) {
    throw invalid("a bucket name is 3-63 lowercase letters, digits, dots and hyphens");
  }
  return { bucket, prefix };
}

/**
 * A command line as a JSON array of strings, or as words split the way a
 * shell would: whitespace separates, quotes group, backslash escapes.
 */
export function parseCommand(text: string, what = "command", example = "nbatch agent"): string[] {
  const words = parseWords(text, what);
  if (words.length === 0 || words[0] === "") {
    throw new InvalidValueError(what, text, `give a program and its arguments, such as "${example}"`);
  }
  return words;
}

/** Words such as patterns: shell words (quotes keep spaces) or a JSON array of strings. */
export function parseWords(text: string, what: string): string[] {
  return text.trim().startsWith("[") ? parseJsonWords(text, what) : splitWords(text, what);
}

function parseJsonWords(text: string, what: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || !parsed.every((w) => typeof w === "string")) {
    throw new InvalidValueError(what, text, 'a JSON command must be an array of strings, such as ["nbatch", "agent"]');
  }
  return parsed;
}

function splitWords(text: string, what: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (c === "\\" && i + 1 < text.length && (quote === undefined || '"\\$`'.includes(text[i + 1]!))) {
      word = (word ?? "") + text[++i];
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= "";
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? "") + c;
    }
  }
  if (quote) throw new InvalidValueError(what, text, `close the ${quote} quote`);
  if (word !== undefined) words.push(word);
  return words;
}
