import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs, { mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi, type TestContext } from "vitest";
import { UserError } from "../../src/errors.js";
import { extractZip } from "../../src/tree/extract.js";
import { buildZip, tempDir } from "./workdir-helpers.js";

// Incompressible and stored, so writing it takes twice the room the small disk has.
const BIG = randomBytes(4 * 1024 * 1024);
const SMALL = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`small-${i}.txt`, `small file ${i}\n`.repeat(200)]));
const OLD_BIG = "the big file as it was before\n";
const mounts: string[] = [];

/** Ways to give extractZip a destination where writes run out of space. */
const fullDisks: [string, (dest: string, ctx: TestContext) => void][] = [
  [
    "a 2 MiB tmpfs",
    (dest, ctx) => {
      try {
        execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", dest], { stdio: "pipe" });
      } catch (err) {
        ctx.skip(`could not mount a tmpfs (that needs root with CAP_SYS_ADMIN): ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`);
      }
      mounts.push(dest);
    },
  ],
  [
    "temp files whose writes go to /dev/full",
    (dest) => {
      // Each temp file is really created beside its target, as on a full disk; its writes then go
      // to /dev/full, which the kernel answers with ENOSPC. Nothing but WriteStream opens this way.
      const open = fs.open;
      vi.spyOn(fs, "open").mockImplementation(((path: fs.PathLike, flags: fs.OpenMode, mode: fs.Mode, cb: (err: Error | null, fd?: number) => void) => {
        if (!String(path).startsWith(`${dest}/`) || !String(path).includes("/.nbatch-tmp-")) return open(path, flags, mode, cb);
        open(path, flags, mode, (err, fd) => (err ? cb(err) : fs.close(fd, () => open("/dev/full", "w", cb))));
      }) as typeof fs.open);
    },
  ],
];

// Runs before workdir-helpers removes the sandbox (after-hooks run last registered first).
afterEach(() => {
  vi.restoreAllMocks();
  for (const dir of mounts.splice(0)) execFileSync("umount", [dir]);
});

describe("extractZip on a full disk", () => {
  it.for(fullDisks)("stops with one line saying so, leaving every file old or complete and no temp file: %s", async ([, fill], ctx) => {
    const sandbox = tempDir();
    const dest = join(sandbox, "dest");
    mkdirSync(dest);
    const archivePath = join(sandbox, "results.zip");
    const entries = [{ name: "big.bin", data: BIG }, ...Object.entries(SMALL).map(([name, data]) => ({ name, data, deflate: true }))];
    writeFileSync(archivePath, buildZip(entries));
    fill(dest, ctx);
    writeFileSync(join(dest, "big.bin"), OLD_BIG);

    const err = await extractZip({ archivePath, destRoot: dest }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(`no space left on the disk while extracting into ${realpathSync(dest)}: free some space`);

    const left = readdirSync(dest).sort();
    expect(left.filter((n) => n.startsWith(".nbatch-tmp-"))).toEqual([]);
    expect(readFileSync(join(dest, "big.bin"), "utf8")).toBe(OLD_BIG);
    // What did get written (small files may fit) is whole.
    for (const name of left.filter((n) => n !== "big.bin")) expect(readFileSync(join(dest, name), "utf8"), name).toBe(SMALL[name]);
  });
});
