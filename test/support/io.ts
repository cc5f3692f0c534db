import { EventEmitter } from "node:events";
import { Writable } from "node:stream";
import { realClock, type Clock } from "../../src/clock.js";
import type { CommandContext } from "../../src/commands/context.js";
import { createOutput, type Output } from "../../src/ui/output.js";

export interface TestOutputOptions {
  stdinIsTTY?: boolean;
  /** Pretend stdout and stderr are a terminal (which turns colour on). */
  tty?: boolean;
  /** The environment colour is decided from (NO_COLOR, CLICOLOR, TERM...). */
  env?: Record<string, string>;
}

export type TestOutput = Output & {
  stdoutText(): string;
  stderrText(): string;
};

/** The Output double: everything written is captured as text. */
export function createTestOutput(opts: TestOutputOptions = {}): TestOutput {
  const stdout = capture(opts.tty ?? false);
  const stderr = capture(opts.tty ?? false);
  const out = createOutput({ stdout: stdout.stream, stderr: stderr.stream, stdinIsTTY: opts.stdinIsTTY ?? false, env: opts.env ?? {} });
  return Object.assign(out, { stdoutText: stdout.text, stderrText: stderr.text });
}

/** A command context for tests: captured output, the given environment, a signal emitter, and the real clock unless given. */
export function testContext(env: Record<string, string | undefined> = {}, o: { out?: TestOutput; clock?: Clock; cwd?: string } = {}): CommandContext & { out: TestOutput; signals: EventEmitter } {
  return { out: o.out ?? createTestOutput(), env, cwd: o.cwd ?? process.cwd(), clock: o.clock ?? realClock, signals: new EventEmitter(), self: [process.execPath, "bin/nbatch.js"] };
}

function capture(isTTY: boolean): { stream: Writable & { isTTY: boolean }; text(): string } {
  const chunks: string[] = [];
  const stream = new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  return { stream: Object.assign(stream, { isTTY }), text: () => chunks.join("") };
}
