/**
 * Resolves once `check` holds, looking every 20 ms, and fails naming what it
 * waited for after timeoutMs. For hooks, where expect.poll may not run.
 */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await check()); ) {
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
