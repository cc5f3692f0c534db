import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";

export interface SecondS3 {
  endpoint: string;
  stop(): Promise<void>;
}

/**
 * s3rver, an S3 implementation nobody on this project wrote, on a free
 * loopback port with a directory of its own: the round trip must not lean
 * on moto's ways of answering.
 */
export async function startS3rver(buckets: string[]): Promise<SecondS3> {
  const directory = await mkdtemp(join(tmpdir(), "nbatch-s3rver-"));
  const server = new S3rver({ port: 0, address: "127.0.0.1", directory, silent: true, configureBuckets: buckets.map((name) => ({ name, configs: [] })) });
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async stop() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
