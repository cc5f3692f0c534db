/**
 * Uploads of packs under way, each noted in the cache while it runs. A run
 * killed outright cannot abort its own multipart upload, and a pack's key is
 * its run's alone, so no later run would know of it: the next run on this
 * machine aborts what a run that is gone left, rather than have its parts
 * billed until the lifecycle rule removes them.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { abortIncompleteUploads } from "../aws/multipart.js";
import { parseS3Url, s3Url, type S3Object } from "../aws/s3.js";
import { cacheDir } from "../config/file.js";
import { alive } from "../tree/temp-files.js";
import { plural } from "../ui/format.js";
import type { BatchContext } from "./context.js";

const dirOf = (ctx: BatchContext) => join(cacheDir(ctx.env), "uploads");

export async function noteUpload<T>(ctx: BatchContext, obj: S3Object, upload: () => Promise<T>): Promise<T> {
  const note = join(dirOf(ctx), `${process.pid}-${randomBytes(4).toString("hex")}`);
  await mkdir(dirOf(ctx), { recursive: true, mode: 0o700 });
  await writeFile(note, s3Url(obj), { mode: 0o600 });
  try {
    return await upload();
  } finally {
    await rm(note, { force: true });
  }
}

/** A policy without s3:ListBucketMultipartUploads, or a store without the call, only leaves the note for later. */
export async function abortLeftUploads(ctx: BatchContext, bucket: string): Promise<void> {
  for (const name of await readdir(dirOf(ctx)).catch(() => [] as string[])) {
    const pid = Number(/^(\d+)-/.exec(name)?.[1]);
    if (!pid || alive(pid)) continue;
    const note = join(dirOf(ctx), name);
    const url = await readFile(note, "utf8").catch(() => "");
    const obj = url.startsWith(`s3://${bucket}/`) ? parseS3Url(url) : undefined;
    if (!obj) continue;
    try {
      const aborted = await abortIncompleteUploads(ctx.clients.s3, obj);
      if (aborted) ctx.out.info(`Aborted ${plural(aborted, "incomplete upload")} of ${url} left by an earlier run`);
      await rm(note, { force: true });
    } catch (err) {
      ctx.out.detail(`could not look for incomplete uploads of ${url}: ${(err as Error).message}`);
    }
  }
}
