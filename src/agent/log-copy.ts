/**
 * The copy of the command's output the agent keeps beside the results
 * (NBATCH_LOG_URL, runs/<run id>/log.gz), so `nbatch logs` still has the log
 * once CloudWatch's retention has deleted the stream. The output still goes
 * to the job's log as it is; each line is also stamped with the time it was
 * read, `<ms since the epoch>\t<line>\n`, and gzipped into a file as it
 * comes, so memory stays bounded however much the command prints.
 */
import type { ChildProcess } from "node:child_process";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable, type Readable } from "node:stream";
import { finished, pipeline } from "node:stream/promises";
import { setTimeout as delay } from "node:timers/promises";
import { createGzip, type Gzip } from "node:zlib";
import { removeTree } from "../tree/temp-files.js";
import type { Output } from "../ui/output.js";

/** CloudWatch cuts events at 256 KiB: a longer line is copied in pieces of that size. */
export const MAX_LINE_BYTES = 256 * 1024;

export class LogCopy {
  private readonly gzip = createGzip();
  private readonly written: Promise<void>;
  private taps: { source: Readable; stamper: Writable }[] = [];

  private constructor(private readonly dir: string) {
    this.written = pipeline(this.gzip, createWriteStream(this.file, { mode: 0o600 }));
    this.written.catch(() => undefined);
  }

  static async create(): Promise<LogCopy> {
    return new LogCopy(await mkdtemp(join(tmpdir(), "nbatch-log-")));
  }

  private get file(): string {
    return join(this.dir, "log.gz");
  }

  /** Tees the child's piped stdout and stderr: on to the agent's own, and into the copy. */
  tee(child: ChildProcess, out: Output): void {
    this.taps = (["stdout", "stderr"] as const).map((which) => {
      const source = child[which]!;
      const stamper = lineStamper(this.gzip);
      source.pipe(out.raw(which), { end: false });
      source.pipe(stamper);
      return { source, stamper };
    });
  }

  /**
   * Stops copying, once the output has ended or graceMs have passed (a
   * process the command left running may hold it open; the output goes on
   * to the job's log), completes the file and hands it to upload. The
   * temporary file is removed whatever happens.
   */
  async save(upload: (body: Readable) => Promise<void>, graceMs: number): Promise<void> {
    try {
      const ended = Promise.all(this.taps.map((t) => finished(t.stamper)));
      ended.catch(() => undefined);
      const timer = new AbortController();
      await Promise.race([ended, delay(graceMs, undefined, { signal: timer.signal }).catch(() => undefined)]);
      timer.abort();
      for (const t of this.taps) {
        t.source.unpipe(t.stamper);
        if (!t.stamper.writableEnded) t.stamper.end();
      }
      await Promise.all(this.taps.map((t) => finished(t.stamper)));
      this.gzip.end();
      await this.written;
      await upload(createReadStream(this.file));
    } finally {
      await removeTree(this.dir);
    }
  }
}

/** A writable that passes whole lines, each with its time, into the gzip stream, waiting when it is full. */
function lineStamper(gzip: Gzip): Writable {
  let partial: Buffer[] = [];
  let partialBytes = 0;
  // A line split at MAX_LINE_BYTES that then ends exactly there must not add an empty line.
  let justSplit = false;
  const flush = (split: boolean): boolean => {
    const skip = !split && justSplit && partialBytes === 0;
    const ok = skip || gzip.write(Buffer.concat([Buffer.from(`${Date.now()}\t`), ...partial, Buffer.from("\n")]));
    [partial, partialBytes, justSplit] = [[], 0, split];
    return !ok;
  };
  const add = (bytes: Buffer): boolean => {
    let full = false;
    for (let rest = bytes; rest.length; ) {
      const take = rest.subarray(0, MAX_LINE_BYTES - partialBytes);
      partial.push(take);
      partialBytes += take.length;
      justSplit = false;
      rest = rest.subarray(take.length);
      if (partialBytes >= MAX_LINE_BYTES) full = flush(true) || full;
    }
    return full;
  };
  const whenDrained = (full: boolean, cb: (err?: Error) => void) => (full ? gzip.once("drain", () => cb()) : cb());
  return new Writable({
    write(chunk: Buffer, _encoding, cb) {
      let full = false;
      let at = 0;
      for (let nl = chunk.indexOf(10, at); nl >= 0; nl = chunk.indexOf(10, at)) {
        full = add(chunk.subarray(at, nl)) || full;
        full = flush(false) || full;
        at = nl + 1;
      }
      full = add(chunk.subarray(at)) || full;
      whenDrained(full, cb);
    },
    final(cb) {
      whenDrained(partialBytes > 0 && flush(false), cb);
    },
  });
}
