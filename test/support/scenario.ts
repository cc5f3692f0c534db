/**
 * Starts a scenario at once and hands back its outcome. Scenarios that
 * mostly wait (on retries, backoff, an outage, a job) run together in
 * beforeAll, and each test awaits the one it checks; a scenario that fails
 * fails its test, not the hook.
 */
export function scenario<T>(fn: () => Promise<T>): Promise<T> {
  const outcome = fn();
  outcome.catch(() => undefined);
  return outcome;
}
