import { open, rm } from "node:fs/promises";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { UserError } from "../errors.js";
import { sdkError } from "./errors.js";
import { backoffMs, isTransient } from "./retry.js";
import type { ByteSource } from "../archive/zip-reader.js";
import { uploadParts, type Body, type UploadProgress } from "./multipart.js";

export type S3 = Pick<S3Client, "send">;

export interface S3Object {
  bucket: string;
  key: string;
}

export function s3Url({ bucket, key }: S3Object): string {
  return `s3://${bucket}/${key}`;
}

export function parseS3Url(url: string): S3Object {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
  if (!m) throw new UserError(`not an S3 object URL: ${url}`);
  return { bucket: m[1]!, key: m[2]! };
}

export function isNotFound(err: unknown): boolean {
  const e = sdkError(err) as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === "NotFound" || e?.name === "NoSuchKey" || e?.$metadata?.httpStatusCode === 404;
}

/** What `call` resolves to, or undefined when what it asked for does not exist. */
async function unlessNotFound<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export async function objectExists(s3: S3, obj: S3Object): Promise<boolean> {
  return (await unlessNotFound(s3.send(new HeadObjectCommand({ Bucket: obj.bucket, Key: obj.key })))) !== undefined;
}

/** S3 allows 10,000 parts; leave room for the archive to outgrow its estimate. */
const MAX_PARTS = 9000;
const MIN_PART_SIZE = 8 * 1024 * 1024;

/** Parts of 8 MiB, or larger for archives over about 70 GiB, so any archive fits in S3's part limit. */
export function partSizeFor(estimatedBytes: number): number {
  return Math.max(MIN_PART_SIZE, Math.ceil(estimatedBytes / MAX_PARTS / (1024 * 1024)) * 1024 * 1024);
}

export interface UploadOptions {
  /** What the body will roughly weigh: sets the part size. */
  estimatedBytes?: number;
  /** A fixed part size instead (the benchmark's sweeps). */
  partSize?: number;
  queueSize?: number;
  signal?: AbortSignal;
  onProgress?: UploadProgress;
}

/** Streams body into one object (src/aws/multipart.ts); on failure or abort nothing is left behind. */
export async function uploadStream(s3: S3Client, obj: S3Object, body: Body, opts: UploadOptions = {}): Promise<void> {
  const partSize = opts.partSize ?? partSizeFor(opts.estimatedBytes ?? 0);
  // A stream stops at once; lent chunks at the next one.
  const abort = () => (body instanceof Readable ? body.destroy(Object.assign(new Error("upload aborted"), { name: "AbortError" })) : undefined);
  if (opts.signal?.aborted) abort();
  opts.signal?.addEventListener("abort", abort, { once: true });
  try {
    await uploadParts(s3, obj, body, {
      partSize,
      queueSize: opts.queueSize ?? 2, // each part in flight holds a part buffer; 2 keep the link as busy as 3 did (docs/performance.md)
      eager: (opts.estimatedBytes ?? 0) >= partSize,
      contentType: "application/zip",
      signal: opts.signal,
      onProgress: opts.onProgress,
    });
  } finally {
    opts.signal?.removeEventListener("abort", abort);
  }
}

export interface DownloadOptions {
  onProgress?: (done: number, total?: number) => void;
  signal?: AbortSignal;
  /** Called with the object's size before a byte is written (a check for free space); it may throw. */
  beforeWrite?: (bytes: number) => Promise<void>;
}

/** Broken transfers resumed in a row, without a byte coming through, before the download gives up. */
const RESUMES = 5;

/**
 * Downloads an object to a local file; false when the object does not
 * exist. A transfer that breaks off (a connection reset, a timeout, a 5xx
 * on the way) goes on with a ranged GET from the last byte written, of the
 * same version of the object (If-Match its ETag), rather than starting over:
 * archives of results can be large. On failure or abort the file is removed.
 */
export async function downloadToFile(s3: S3, obj: S3Object, path: string, opts: DownloadOptions = {}): Promise<boolean> {
  const get = (range?: string, etag?: string) =>
    s3.send(new GetObjectCommand({ Bucket: obj.bucket, Key: obj.key, Range: range, IfMatch: etag }), { abortSignal: opts.signal });
  const first = await unlessNotFound(get());
  if (!first) return false;
  const total = first.ContentLength;
  let body: Readable | undefined = first.Body as Readable;
  let done = 0;
  try {
    await opts.beforeWrite?.(total ?? 0);
  } catch (err) {
    abandon(body);
    throw err;
  }
  const file = await open(path, "w", 0o600).catch((err: unknown) => {
    abandon(body);
    throw err;
  });
  try {
    for (let failures = 0; ; ) {
      const before = done;
      try {
        body ??= (await get(`bytes=${done}-`, first.ETag)).Body as Readable;
        const stop = () => body?.destroy(Object.assign(new Error("download aborted"), { name: "AbortError" }));
        opts.signal?.addEventListener("abort", stop, { once: true });
        try {
          for await (const chunk of body) {
            for (let at = 0; at < chunk.length; ) at += (await file.write(chunk, at, chunk.length - at, done + at)).bytesWritten;
            done += chunk.length;
            opts.onProgress?.(done, total);
          }
        } finally {
          opts.signal?.removeEventListener("abort", stop);
        }
        if (total === undefined || done >= total) break;
        throw Object.assign(new Error(`the transfer ended after ${done} of ${total} bytes`), { code: "ECONNRESET" });
      } catch (err) {
        abandon(body);
        body = undefined;
        if (done > before) failures = 0;
        if (opts.signal?.aborted || total === undefined || !brokeOff(err) || ++failures > RESUMES) throw err;
        await sleep(backoffMs(failures, 200, 5000), undefined, { signal: opts.signal });
      }
    }
    await file.close();
  } catch (err) {
    await file.close().catch(() => undefined);
    await rm(path, { force: true });
    throw err;
  }
  return true;
}

/** A body not read to its end: closed, and its connection's later complaints (an "aborted" socket) heard by nobody. */
function abandon(body: Readable | undefined): void {
  body?.on("error", () => undefined);
  body?.destroy();
}

/** A transfer cut short by the network or the server, worth resuming; not a refusal such as a replaced object (412). */
export function brokeOff(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return isTransient(err) || code === "ERR_STREAM_PREMATURE_CLOSE" || code === "ECONNABORTED";
}

/**
 * An object as a source of byte ranges (a HeadObject, then ranged GETs);
 * undefined when it does not exist. Every read asks for the version the
 * HeadObject saw, so an object replaced meanwhile fails instead of mixing.
 */
export async function byteSource(s3: S3, obj: S3Object): Promise<ByteSource | undefined> {
  const head = await unlessNotFound(s3.send(new HeadObjectCommand({ Bucket: obj.bucket, Key: obj.key })));
  if (!head) return undefined;
  return {
    size: head.ContentLength ?? 0,
    read: async (start, end) =>
      (await s3.send(new GetObjectCommand({ Bucket: obj.bucket, Key: obj.key, Range: `bytes=${start}-${end - 1}`, IfMatch: head.ETag }))).Body as Readable,
  };
}

/** An object's body as a stream, read as it arrives; undefined when there is no such object. */
export async function getStream(s3: S3, obj: S3Object): Promise<Readable | undefined> {
  const res = await unlessNotFound(s3.send(new GetObjectCommand({ Bucket: obj.bucket, Key: obj.key })));
  return res?.Body as Readable | undefined;
}

export async function getText(s3: S3, obj: S3Object): Promise<string | undefined> {
  const res = await unlessNotFound(s3.send(new GetObjectCommand({ Bucket: obj.bucket, Key: obj.key })));
  return res?.Body!.transformToString();
}

/** An object's bytes, held in memory: only for small objects (an index, a tree). */
export async function getBytes(s3: S3, obj: S3Object): Promise<Buffer | undefined> {
  const res = await unlessNotFound(s3.send(new GetObjectCommand({ Bucket: obj.bucket, Key: obj.key })));
  return res && Buffer.from(await res.Body!.transformToByteArray());
}

export async function putText(s3: S3, obj: S3Object, text: string): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: obj.bucket, Key: obj.key, Body: text, ContentType: "application/json" }));
}

/**
 * Writes a small object unless one exists under its key (If-None-Match);
 * false when one did. A store that does not know the condition gets a plain
 * PutObject: the callers write only objects whose key names their bytes.
 */
export async function putIfAbsent(s3: S3, obj: S3Object, body: Buffer, contentType: string): Promise<boolean> {
  const put = (condition?: string) => s3.send(new PutObjectCommand({ Bucket: obj.bucket, Key: obj.key, Body: body, ContentType: contentType, IfNoneMatch: condition }));
  for (let tries = 0; ; tries++) {
    try {
      await put("*");
      return true;
    } catch (err) {
      const status = (sdkError(err) as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
      if (status === 412) return false;
      // Another conditional write of the key under way: S3 asks for a retry.
      if (status === 409 && tries < 3) continue;
      if (status !== 501 && status !== 400) throw err;
      break;
    }
  }
  await put();
  return true;
}

export async function deleteObject(s3: S3, obj: S3Object): Promise<void> {
  await s3.send(new DeleteObjectCommand({ Bucket: obj.bucket, Key: obj.key }));
}
