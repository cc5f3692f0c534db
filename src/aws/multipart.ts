import { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from "@aws-sdk/client-s3";

export interface S3Target {
  bucket: string;
  key: string;
}

/** A stream, or chunks that may be reused once the next is asked for. */
export type Body = Readable | AsyncIterable<Buffer>;

/**
 * Called as each part has gone up, with the bytes sent in all and how long
 * at least one part has been in flight: the link's own time, apart from
 * any waiting on the body, so their ratio is what the link sends.
 */
export type UploadProgress = (bytes: number, busyMs: number) => void;

export interface MultipartOptions {
  partSize: number;
  /** Parts uploading at once. */
  queueSize: number;
  /** Create the multipart upload at once, before the first part is full (the body is known to be large). */
  eager: boolean;
  contentType: string;
  signal?: AbortSignal;
  onProgress?: UploadProgress;
}

/**
 * Streams `body` into one object. The body is copied into a fixed set of
 * part buffers, `queueSize` uploading and one filling, reused from part to
 * part: memory stays at (queueSize + 1) x partSize and the collector sees
 * no per-part garbage. While every slot is busy the body is not read, so a
 * slow link holds back the packer. A body that fits in one part and was not
 * known to be large goes up with one PutObject.
 *
 * On any failure, or when the body is destroyed, the parts in flight are
 * let finish and the multipart upload is aborted before this returns, so
 * no parts are left behind.
 */
export async function uploadParts(s3: S3Client, obj: S3Target, body: Body, opts: MultipartOptions): Promise<void> {
  // A part that failed for good stops a stream's reading at once; a generator is stopped at its next chunk.
  const upload = new PartUploader(s3, obj, opts, (err) => (body instanceof Readable ? body.destroy(err as Error) : undefined));
  // Ctrl-C while every slot is busy: the parts in flight are cancelled, which wakes the wait for a slot.
  const interrupt = () => upload.interrupt(opts.signal!.reason);
  opts.signal?.addEventListener("abort", interrupt, { once: true });
  if (opts.eager) upload.create();
  const free = partBuffers(opts);
  let part = free.pop()!;
  let filled = 0;
  try {
    // Each chunk is copied before the next is asked for, so lent chunks (zipChunks) are safe here.
    for await (const chunk of body) {
      upload.check();
      opts.signal?.throwIfAborted();
      for (let offset = 0; offset < chunk.length; ) {
        const n = chunk.copy(part, filled, offset);
        filled += n;
        offset += n;
        if (filled < opts.partSize) continue;
        await upload.send(part, filled, (done) => free.push(done));
        part = free.pop() ?? Buffer.allocUnsafeSlow(opts.partSize);
        filled = 0;
      }
    }
    if (!upload.created) {
      const start = performance.now();
      await s3.send(new PutObjectCommand({ Bucket: obj.bucket, Key: obj.key, Body: part.subarray(0, filled), ContentType: opts.contentType }), {
        abortSignal: opts.signal,
      });
      opts.onProgress?.(filled, performance.now() - start);
      return;
    }
    if (filled > 0 || upload.count === 0) await upload.send(part, filled, () => undefined);
    await upload.complete();
  } catch (err) {
    // Leaving the loop early has already closed the body; a stream that failed on its own is closed too.
    if (body instanceof Readable) body.destroy();
    await upload.abort();
    throw err;
  } finally {
    opts.signal?.removeEventListener("abort", interrupt);
  }
}

/**
 * The part buffers, queueSize + 1 of them, as slices of one allocation:
 * so large a block is mapped from the system on its own, and its pages go
 * back as one once the upload is over and its buffers are collected.
 * Allocated one by one, the buffers came from malloc's heap, which kept
 * their pages after they were freed: 200,000 small files peaked 13 to 16 MB
 * higher, the pack's index being made after the upload in new pages.
 */
function partBuffers(opts: MultipartOptions): Buffer[] {
  const slab = Buffer.allocUnsafeSlow((opts.queueSize + 1) * opts.partSize);
  return Array.from({ length: opts.queueSize + 1 }, (_, i) => slab.subarray(i * opts.partSize, (i + 1) * opts.partSize));
}

/**
 * Aborts every multipart upload of one key that was never completed: a
 * process killed mid-upload cannot abort its own, and its parts are billed
 * until the bucket's lifecycle rule removes them. Returns how many.
 */
export async function abortIncompleteUploads(s3: S3Client, obj: S3Target): Promise<number> {
  let aborted = 0;
  let markers: { KeyMarker?: string; UploadIdMarker?: string } = {};
  for (;;) {
    const page = await s3.send(new ListMultipartUploadsCommand({ Bucket: obj.bucket, Prefix: obj.key, ...markers }));
    for (const { Key, UploadId } of page.Uploads ?? []) {
      if (Key !== obj.key || !UploadId) continue;
      await s3.send(new AbortMultipartUploadCommand({ Bucket: obj.bucket, Key, UploadId }));
      aborted++;
    }
    if (!page.IsTruncated) return aborted;
    markers = { KeyMarker: page.NextKeyMarker, UploadIdMarker: page.NextUploadIdMarker };
  }
}

class PartUploader {
  private uploadId: Promise<string> | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly parts: CompletedPart[] = [];
  private failure: { error: unknown } | undefined;
  private checksumAlgorithm: Promise<"CRC32" | undefined> | undefined;
  private readonly cancel = new AbortController();
  private uploaded = 0;
  // Parts whose request is out, and the time with at least one out: up to the last time none was, and since then.
  private sending = 0;
  private busyMs = 0;
  private busySince = 0;
  count = 0;

  constructor(
    private readonly s3: S3Client,
    private readonly obj: S3Target,
    private readonly opts: MultipartOptions,
    private readonly onFailure: (error: unknown) => void,
  ) {}

  get created(): boolean {
    return this.uploadId !== undefined;
  }

  create(): void {
    this.uploadId ??= this.checksum()
      .then((ChecksumAlgorithm) =>
        this.s3.send(new CreateMultipartUploadCommand({ Bucket: this.obj.bucket, Key: this.obj.key, ContentType: this.opts.contentType, ChecksumAlgorithm })),
      )
      .then((r) => r.UploadId!);
    this.uploadId.catch((error: unknown) => this.fail(error));
  }

  /** Starts uploading `length` bytes of `buf` once a slot is free; `release` gets the buffer back when it is sent. */
  async send(buf: Buffer, length: number, release: (buf: Buffer) => void): Promise<void> {
    this.create();
    while (this.inFlight.size >= this.opts.queueSize) await Promise.race(this.inFlight);
    this.check();
    const partNumber = ++this.count;
    const sent = Promise.all([this.uploadId!, this.checksum()]).then(([UploadId, ChecksumAlgorithm]) => {
      if (this.sending++ === 0) this.busySince = performance.now();
      return this.s3
        .send(
          new UploadPartCommand({ Bucket: this.obj.bucket, Key: this.obj.key, UploadId, PartNumber: partNumber, Body: buf.subarray(0, length), ChecksumAlgorithm }),
          { abortSignal: this.cancel.signal },
        )
        .finally(() => {
          if (--this.sending === 0) this.busyMs += performance.now() - this.busySince;
        });
    });
    // Never rejects: whatever fails is recorded, so abort() always gets to AbortMultipartUpload.
    const done: Promise<void> = sent
      .then((r) => {
        this.parts.push({ PartNumber: partNumber, ETag: r.ETag, ChecksumCRC32: r.ChecksumCRC32 });
        this.uploaded += length;
        release(buf);
        this.opts.onProgress?.(this.uploaded, this.busyMs + (this.sending > 0 ? performance.now() - this.busySince : 0));
      })
      .catch((error: unknown) => this.fail(error));
    const tracked = done.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  async complete(): Promise<void> {
    await Promise.all(this.inFlight);
    this.check();
    const parts = [...this.parts].sort((a, b) => a.PartNumber! - b.PartNumber!);
    await this.s3.send(
      new CompleteMultipartUploadCommand({ Bucket: this.obj.bucket, Key: this.obj.key, UploadId: await this.uploadId!, MultipartUpload: { Parts: parts } }),
    );
  }

  /**
   * Cancels the parts in flight and waits until they have settled (a part
   * that landed after the abort would stay behind), then aborts the upload.
   */
  async abort(): Promise<void> {
    if (!this.uploadId) return;
    this.cancel.abort();
    await Promise.all(this.inFlight);
    const uploadId = await this.uploadId.catch(() => undefined);
    if (!uploadId) return;
    try {
      await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.obj.bucket, Key: this.obj.key, UploadId: uploadId }));
    } catch {
      // The error that brought us here is the one to report; the bucket's
      // lifecycle rule removes the parts of an upload left incomplete.
    }
  }

  /**
   * CRC32 on every part, verified by S3, unless the user's AWS configuration
   * asks for checksums only where required (some S3-compatible stores
   * reject them): the same rule as the SDK's own uploads.
   */
  private checksum(): Promise<"CRC32" | undefined> {
    this.checksumAlgorithm ??= Promise.resolve(this.s3.config.requestChecksumCalculation?.()).then((when) =>
      when === "WHEN_REQUIRED" ? undefined : "CRC32",
    );
    return this.checksumAlgorithm;
  }

  interrupt(reason: unknown): void {
    this.fail(reason);
    this.cancel.abort();
  }

  private fail(error: unknown): void {
    if (this.failure) return;
    this.failure = { error };
    this.onFailure(error);
  }

  check(): void {
    if (this.failure) throw this.failure.error;
  }
}
