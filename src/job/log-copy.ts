/**
 * Reading the copy of a job's log that the agent keeps beside its results
 * (agent/log-copy.ts): streamed from S3 and inflated as it arrives, a line at
 * a time, so a long log costs no more memory than its longest line.
 */
import { createGunzip } from "node:zlib";
import { pipeline } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { getStream, type S3, type S3Object } from "../aws/s3.js";
import type { LogEvent } from "./tail.js";

/** Calls onEvent for each line of the copy; false when there is no copy. */
export async function readLogCopy(s3: S3, obj: S3Object, onEvent: (e: LogEvent) => void): Promise<boolean> {
  const body = await getStream(s3, obj);
  if (!body) return false;
  const lines = pipeline(body, createGunzip(), () => undefined);
  const decoder = new StringDecoder("utf8");
  let rest = "";
  const emit = (line: string) => {
    const tab = line.indexOf("\t");
    onEvent({ timestamp: Number(line.slice(0, tab)) || 0, message: line.slice(tab + 1) });
  };
  for await (const chunk of lines) {
    const text = rest + decoder.write(chunk as Buffer);
    const parts = text.split("\n");
    rest = parts.pop()!;
    for (const line of parts) emit(line);
  }
  rest += decoder.end();
  if (rest) emit(rest);
  return true;
}
