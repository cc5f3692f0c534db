import { sdkError } from "./errors.js";

/** Which AWS failures are worth waiting out, and how long to wait. */

const TRANSIENT_NAMES = new Set([
  "ThrottlingException",
  "Throttling",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "SlowDown",
  "ServiceUnavailable",
  "InternalServerError",
  "InternalFailure",
  "TimeoutError",
  "RequestTimeout",
]);

const NETWORK_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN", "ENETUNREACH", "EHOSTUNREACH"]);

function isThrottling(err: unknown): boolean {
  const e = sdkError(err) as { name?: string; $metadata?: { httpStatusCode?: number } };
  return /throttl|toomanyrequests|slowdown|limitexceeded/i.test(e?.name ?? "") || e?.$metadata?.httpStatusCode === 429;
}

export function isTransient(err: unknown): boolean {
  const e = sdkError(err) as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  if (!e || typeof e !== "object") return false;
  if (TRANSIENT_NAMES.has(e.name ?? "") || isThrottling(e)) return true;
  if (NETWORK_CODES.has(e.code ?? "")) return true;
  return (e.$metadata?.httpStatusCode ?? 0) >= 500;
}

/** Exponential backoff with full jitter: a random wait up to min(cap, base * 2^attempt). */
export function backoffMs(attempt: number, baseMs: number, capMs: number, random = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.max(baseMs, Math.round(random() * ceiling));
}
