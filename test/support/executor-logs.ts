import {
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  PutLogEventsCommand,
  ResourceAlreadyExistsException,
  type CloudWatchLogsClient,
  type InputLogEvent,
} from "@aws-sdk/client-cloudwatch-logs";
import type { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";

const FLUSH_MS = 100;
const MAX_BATCH_EVENTS = 1000;
const MAX_BATCH_BYTES = 512 * 1024;
// CloudWatch caps an event at 256 KiB; 65,000 UTF-16 units stay under it in UTF-8.
const MAX_EVENT_CHARS = 65_000;

/** One job attempt's log stream, shipped like the awslogs driver does. */
export interface LogShipper {
  /** Sends each line of the stream, stamped with when it arrived. */
  follow(stream: Readable): void;
  /** Resolves once every line written so far is in CloudWatch. */
  close(): Promise<void>;
}

export async function openLogStream(
  logs: Pick<CloudWatchLogsClient, "send">,
  logGroupName: string,
  logStreamName: string,
): Promise<LogShipper> {
  await logs.send(new CreateLogGroupCommand({ logGroupName })).catch((err) => {
    if (!(err instanceof ResourceAlreadyExistsException)) throw err;
  });
  await logs.send(new CreateLogStreamCommand({ logGroupName, logStreamName }));

  let pending: InputLogEvent[] = [];
  let lastTimestamp = 0;
  let inFlight: Promise<void> = Promise.resolve();
  const timer = setInterval(() => void flush(), FLUSH_MS);

  function add(message: string) {
    // CloudWatch rejects empty messages and wants each batch in time order.
    if (message === "") return;
    lastTimestamp = Math.max(lastTimestamp, Date.now());
    for (let i = 0; i < message.length; i += MAX_EVENT_CHARS) {
      pending.push({ timestamp: lastTimestamp, message: message.slice(i, i + MAX_EVENT_CHARS) });
    }
  }

  function flush(): Promise<void> {
    inFlight = inFlight.then(async () => {
      while (pending.length > 0) {
        const batch = takeBatch();
        try {
          await logs.send(new PutLogEventsCommand({ logGroupName, logStreamName, logEvents: batch }));
        } catch (err) {
          console.error(`test executor: PutLogEvents to ${logGroupName}/${logStreamName} failed:`, err);
        }
      }
    });
    return inFlight;
  }

  function takeBatch(): InputLogEvent[] {
    let bytes = 0;
    let n = 0;
    while (n < pending.length && n < MAX_BATCH_EVENTS) {
      bytes += Buffer.byteLength(pending[n]!.message!) + 26;
      if (n > 0 && bytes > MAX_BATCH_BYTES) break;
      n++;
    }
    const batch = pending.slice(0, n);
    pending = pending.slice(n);
    return batch;
  }

  return {
    follow(stream) {
      const decoder = new StringDecoder("utf8");
      let partial = "";
      stream.on("data", (chunk: Buffer) => {
        const lines = (partial + decoder.write(chunk)).split("\n");
        partial = lines.pop()!;
        lines.forEach(add);
      });
      stream.on("end", () => add(partial + decoder.end()));
    },
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}
