import { Writable } from "node:stream";
import { createIO, type IO } from "../../src/ui/io.js";

export interface TestIOOptions {
  stdinIsTTY?: boolean;
  /** Pretend stdout and stderr are a terminal (which turns colour on). */
  tty?: boolean;
  noColor?: boolean;
}

export type TestIO = IO & {
  stdoutText(): string;
  stderrText(): string;
};

/** The IO double: everything written is captured as text. */
export function createTestIO(opts: TestIOOptions = {}): TestIO {
  const stdout = capture(opts.tty ?? false);
  const stderr = capture(opts.tty ?? false);
  const io = createIO({
    stdout: stdout.stream,
    stderr: stderr.stream,
    stdinIsTTY: opts.stdinIsTTY ?? false,
    noColor: opts.noColor ?? false,
  });
  return { ...io, stdoutText: stdout.text, stderrText: stderr.text };
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
