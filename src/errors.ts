/**
 * The error taxonomy. Every failure a user can cause or fix is one of these;
 * cli.ts maps them to exit codes in one place. Anything else is a bug and
 * keeps its stack (shown with NBATCH_DEBUG=1).
 */

export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

/** Something the user can fix: one line saying what is wrong and how to fix it. */
export class UserError extends Error {
  readonly exitCode: number;
  /** exitCode: the status to exit with when it is not 1, e.g. a job's own. */
  constructor(message: string, options?: { cause?: unknown; exitCode?: number }) {
    super(message, options);
    this.name = "UserError";
    this.exitCode = options?.exitCode ?? EXIT.failure;
  }
}

/** A malformed command line: wrong flags, bad values, conflicting options. */
export class UsageError extends UserError {
  override readonly exitCode: number = EXIT.usage;
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The user pressed Ctrl-C (or sent SIGINT/SIGTERM) and we stopped cleanly. */
export class InterruptedError extends Error {
  readonly exitCode: number = EXIT.interrupted;
  constructor(message = "Interrupted") {
    super(message);
    this.name = "InterruptedError";
  }
}

export function isUserError(err: unknown): err is UserError {
  return err instanceof UserError;
}
