import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GetObjectCommand, HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Open, type CentralDirectory } from "unzipper";
import { UserError } from "../errors.js";
import { readEntry } from "../archive/reader.js";
import { s3Url, unlessNotFound, type S3Object } from "./s3.js";

export interface RemoteZip {
  size: number;
  directory: CentralDirectory;
  /** The bytes [start, end) of the object. */
  get(start: number, end: number): Promise<Readable>;
}

/**
 * A zip in S3 with its central directory read (a HeadObject and two ranged
 * GETs): undefined when there is no object, "unreadable" when its bytes do
 * not parse as a zip (the whole archive is then fetched and refused with a
 * clear message). Every read asks for the version HeadObject saw.
 */
export async function openRemoteZip(s3: S3Client, obj: S3Object): Promise<RemoteZip | "unreadable" | undefined> {
  const head = await unlessNotFound(s3.send(new HeadObjectCommand({ Bucket: obj.bucket, Key: obj.key })));
  if (!head) return undefined;
  const size = head.ContentLength ?? 0;
  const get = async (start: number, end: number) =>
    (await s3.send(new GetObjectCommand({ Bucket: obj.bucket, Key: obj.key, Range: `bytes=${start}-${end - 1}`, IfMatch: head.ETag }))).Body as Readable;
  // unzipper pipes these streams on without listening for errors: a failed read ends
  // its stream instead, and the failure is reported here once the parse gives up.
  let failure: { error: unknown } | undefined;
  const source = {
    size: async () => size,
    stream: (offset: number, length?: number) => {
      const out = new PassThrough();
      const end = length ? Math.min(size, offset + length) : size;
      if (!(offset >= 0 && offset < end)) {
        out.end();
        return out;
      }
      get(offset, end)
        .then((body) => pipeline(body, out))
        .catch((error: unknown) => {
          failure ??= { error };
          out.end();
        });
      return out;
    },
  };
  try {
    return { size, directory: await Open.custom(source), get };
  } catch {
    if (failure) throw failure.error;
    return "unreadable";
  }
}

/**
 * One small entry of a zip in S3, read with ranged GETs of its central
 * directory and the entry alone, not the whole (maybe huge) archive;
 * undefined when the archive or the entry does not exist.
 */
export async function readS3ZipEntry(s3: S3Client, obj: S3Object, name: string): Promise<Buffer | undefined> {
  const zip = await openRemoteZip(s3, obj);
  if (zip === "unreadable") throw new UserError(`${s3Url(obj)} is not a zip archive: it is corrupt.`);
  return zip && readEntry(zip.directory, name, s3Url(obj));
}
