import { createReadStream, createWriteStream } from "node:fs";
import { copyFile, readFile, rename, rm, stat } from "node:fs/promises";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import type { S3Client } from "@aws-sdk/client-s3";
import { byteSource, deleteObject, downloadToFile, getText, parseS3Url, uploadStream } from "../aws/s3.js";
import type { ByteSource } from "../archive/zip-reader.js";
import type { UploadProgress } from "../aws/multipart.js";

/**
 * Where the agent reads inputs and writes results: s3:// on AWS Batch,
 * file:// when the embedded runner plays the job on this machine.
 */
export interface Store {
  download(url: string, path: string): Promise<boolean>;
  /** `onProgress` hears what the parts took (UploadOptions); a file has none. */
  upload(url: string, body: Readable, onProgress?: UploadProgress): Promise<void>;
  readText(url: string): Promise<string | undefined>;
  remove(url: string): Promise<void>;
  /** The object as a source of byte ranges; undefined when it does not exist. */
  source(url: string): Promise<ByteSource | undefined>;
}

export function createStore(s3: () => S3Client): Store {
  const local = (url: string) => (url.startsWith("file:") ? fileURLToPath(url) : undefined);
  return {
    async download(url, path) {
      const file = local(url);
      if (!file) return downloadToFile(s3(), parseS3Url(url), path);
      return copyFile(file, path).then(() => true, (err) => (err.code === "ENOENT" ? false : Promise.reject(err)));
    },
    async upload(url, body, onProgress) {
      const file = local(url);
      if (file) {
        // Whole or not at all, as an S3 object is: a full disk must not leave half an archive.
        const part = `${file}.partial`;
        await pipeline(body, createWriteStream(part)).catch(async (err: unknown) => {
          await rm(part, { force: true });
          throw err;
        });
        await rename(part, file);
      }
      else await uploadStream(s3(), parseS3Url(url), body, { onProgress });
    },
    async readText(url) {
      const file = local(url);
      if (!file) return getText(s3(), parseS3Url(url));
      return readFile(file, "utf8").catch((err) => (err.code === "ENOENT" ? undefined : Promise.reject(err)));
    },
    async source(url) {
      const file = local(url);
      if (!file) return byteSource(s3(), parseS3Url(url));
      const size = await stat(file).then((st) => st.size, (err) => (err.code === "ENOENT" ? undefined : Promise.reject(err)));
      return size === undefined ? undefined : { size, read: async (start, end) => createReadStream(file, { start, end: end - 1 }) };
    },
    async remove(url) {
      const file = local(url);
      if (file) await rm(file, { force: true });
      else await deleteObject(s3(), parseS3Url(url));
    },
  };
}

