import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { UserError } from "../errors.js";
import { sdkError } from "./errors.js";
import type { ByteSource } from "../archive/zip-reader.js";
import { uploadParts, type Body } from "./multipart.js";

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
export async function unlessNotFound<T>(call: Promise<T>): Promise<T | undefined> {
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
  onProgress?: (bytes: number) => void;
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

/** Downloads an object to a local file; false when the object does not exist. */
export async function downloadToFile(s3: S3, obj: S3Object, path: string, onProgress?: (done: number, total?: number) => void): Promise<boolean> {
  const res = await unlessNotFound(s3.send(new GetObjectCommand({ Bucket: obj.bucket, Key: obj.key })));
  if (!res) return false;
  let done = 0;
  const count = async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      done += chunk.length;
      onProgress?.(done, res.ContentLength);
      yield chunk;
    }
  };
  try {
    await pipeline(res.Body as Readable, count, createWriteStream(path));
  } catch (err) {
    await rm(path, { force: true });
    throw err;
  }
  return true;
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

export async function putText(s3: S3, obj: S3Object, text: string): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: obj.bucket, Key: obj.key, Body: text, ContentType: "application/json" }));
}

export async function deleteObject(s3: S3, obj: S3Object): Promise<void> {
  await s3.send(new DeleteObjectCommand({ Bucket: obj.bucket, Key: obj.key }));
}
