/**
 * Which failed attempts Batch retries. Batch retries any failure unless the
 * retry strategy's evaluateOnExit rules say otherwise: the first rule whose
 * conditions all match decides, RETRY or EXIT, and a failure no rule
 * matches is retried (AWS Batch API reference, EvaluateOnExit).
 */
import type { EvaluateOnExit, JobDefinition, RetryStrategy } from "@aws-sdk/client-batch";
import { UsageError } from "../errors.js";

/** What --retry-on asks for: host losses (spot reclaims), any failure, or the command's given exit codes. */
export interface RetryOn {
  spot: boolean;
  any: boolean;
  exitCodes: string[];
}

/** Batch's status reason for an attempt whose instance went away: a spot reclaim, or a host lost. */
const HOST_LOST: EvaluateOnExit = { onStatusReason: "Host EC2*", action: "RETRY" };
const OTHERWISE_EXIT: EvaluateOnExit = { onReason: "*", action: "EXIT" };
/** Batch allows 5 evaluateOnExit rules; one is the final EXIT. */
const MAX_RULES = 5;

export function parseRetryOn(specs: readonly string[]): RetryOn | undefined {
  if (!specs.length) return undefined;
  const on: RetryOn = { spot: false, any: false, exitCodes: [] };
  for (const word of specs.flatMap((s) => s.split(",")).map((w) => w.trim().toLowerCase()).filter(Boolean)) {
    if (word === "spot") on.spot = true;
    else if (word === "any") on.any = true;
    else if (/^\d{1,3}$/.test(word) && Number(word) <= 255) on.exitCodes.push(word);
    else throw new UsageError(`invalid --retry-on "${word}": use spot, any, or exit codes such as 1 or 137 (comma-separated)`);
  }
  if (on.any && (on.spot || on.exitCodes.length)) throw new UsageError("--retry-on any already retries every failure: give it alone");
  if ((on.spot ? 1 : 0) + on.exitCodes.length > MAX_RULES - 1) throw new UsageError(`--retry-on takes at most ${MAX_RULES - 1} conditions (Batch allows ${MAX_RULES} rules, one of them the final EXIT)`);
  return on;
}

/**
 * The retryStrategy to submit, or undefined to leave the job definition's.
 * With --retries alone, the definition's rules still decide which failures
 * are retried; a definition without rules retries only attempts lost with
 * their host (spot reclaims), since a command that failed would most often
 * fail the same way again and be paid for twice.
 */
export function retryStrategyFor(retries: number | undefined, on: RetryOn | undefined, def: Pick<JobDefinition, "retryStrategy">): RetryStrategy | undefined {
  if (retries === undefined) {
    if (on) throw new UsageError("--retry-on says which failures --retries retries: give --retries N too");
    return undefined;
  }
  const attempts = retries + 1;
  if (retries === 0) return { attempts };
  if (on?.any) return { attempts };
  if (on) return { attempts, evaluateOnExit: [...(on.spot ? [HOST_LOST] : []), ...on.exitCodes.map((code) => ({ onExitCode: code, action: "RETRY" as const })), OTHERWISE_EXIT] };
  const kept = def.retryStrategy?.evaluateOnExit;
  return { attempts, evaluateOnExit: kept?.length ? kept : [HOST_LOST, OTHERWISE_EXIT] };
}
