import type { IncomingHttpHeaders } from "node:http";
import type { AwsErrorKind, CannedError } from "./fault-errors.js";
import type { Service } from "./fault-classify.js";

/** One request as the proxy saw it, before any fault. */
export interface ProxiedRequest {
  service: Service;
  /** The API operation, e.g. "UploadPart", "GetLogEvents", "DescribeJobs". */
  operation: string;
  method: string;
  path: string;
  query: URLSearchParams;
  /** Lower-case names, as Node gives them. */
  headers: IncomingHttpHeaders;
  /** The region the request was signed for. */
  region?: string;
  /** S3 only: the bucket and key of a path-style request. */
  bucket?: string;
  key?: string;
  /** The parsed body of a JSON request (Logs, Batch); undefined otherwise. */
  body?: any;
  bytes: number;
  /** What the proxy did instead of forwarding it, e.g. "drop" or "error:Throttling". */
  fault?: string;
}

export interface Match {
  service?: Service;
  operation?: string | RegExp;
  method?: string;
  path?: string | RegExp;
  /** Each named parameter must be present; a string or RegExp also checks its value. */
  query?: Record<string, string | RegExp | true>;
  headers?: Record<string, string | RegExp>;
  /** Tested against the raw request body. */
  body?: RegExp;
  where?: (req: ProxiedRequest) => boolean;
}

export type Fault =
  /** Destroys the connection without answering. */
  | "drop"
  /** Forwards, then destroys the connection halfway through the answer. */
  | "drop-mid-response"
  /** Forwards half of the answer, then sends nothing more (a transfer hanging mid-way). */
  | "stall-mid-response"
  /** Never answers; the connection stays open until the client gives up or the proxy stops. */
  | "stall"
  | { delayMs: number }
  /** Forwards, then answers with the body changed (a listing that says an object is older than it is). */
  | { rewrite: (body: string) => string }
  /** An AWS error in the shape of the request's protocol. */
  | { error: AwsErrorKind | CannedError; message?: string };

export interface RuleOptions {
  /** Leave this many matching requests alone first. */
  skip?: number;
  /** Apply the fault to this many matching requests, then let the rest through (default: all). */
  times?: number;
}

export interface Rule {
  /** How many requests the fault was applied to. */
  readonly hits: number;
  remove(): void;
}

/** A rule and its counters. */
export interface RuleState extends RuleOptions {
  match: Match;
  fault: Fault;
  seen: number;
  hits: number;
}

/** Whether a request matches every condition given. */
export function matches(m: Match, req: ProxiedRequest, body: Buffer): boolean {
  const test = (want: string | RegExp, got: string | undefined) =>
    got !== undefined && (typeof want === "string" ? want === got : want.test(got));
  if (m.service !== undefined && m.service !== req.service) return false;
  if (m.operation !== undefined && !test(m.operation, req.operation)) return false;
  if (m.method !== undefined && m.method !== req.method) return false;
  if (m.path !== undefined && !test(m.path, req.path)) return false;
  for (const [name, want] of Object.entries(m.query ?? {})) {
    const got = req.query.get(name) ?? undefined;
    if (want === true ? got === undefined : !test(want, got)) return false;
  }
  for (const [name, want] of Object.entries(m.headers ?? {})) {
    const got = req.headers[name.toLowerCase()];
    if (!test(want, Array.isArray(got) ? got.join(",") : got)) return false;
  }
  if (m.body !== undefined && !m.body.test(body.toString("utf8"))) return false;
  return m.where === undefined || m.where(req);
}

/** How a fault is recorded on the request it was applied to. */
export function faultName(fault: Fault): string {
  if (typeof fault === "string") return fault;
  if ("delayMs" in fault) return `delay:${fault.delayMs}`;
  if ("rewrite" in fault) return "rewrite";
  return `error:${typeof fault.error === "string" ? fault.error : fault.error.code}`;
}
