import type { S3Client } from "@aws-sdk/client-s3";
import { Open } from "unzipper";
import { readEntry } from "../workdir/archive.js";
import { s3Url, type S3Object } from "./s3.js";

/**
 * One small entry of a zip in S3, read with ranged GETs of its central
 * directory and the entry alone, not the whole (maybe huge) archive.
 */
export async function readS3ZipEntry(s3: S3Client, obj: S3Object, name: string): Promise<Buffer | undefined> {
  const directory = await Open.s3_v3(s3, { Bucket: obj.bucket, Key: obj.key });
  return readEntry(directory, name, s3Url(obj));
}
