#!/usr/bin/env node
// `nbatch --version` is answered before loading the CLI: scripts call it
// often, and it then costs little more than starting Node.
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  const { readFileSync } = await import("node:fs");
  process.stdout.write(JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version + "\n");
} else {
  // V8 lets the heap grow to up to four times what is live before a full
  // collection; packing 200,000 small files promotes enough short-lived
  // garbage that it would reach 300 MB for 56 MB live. At 1.2 times, a full
  // collection of a small live heap costs a few milliseconds, and the peak
  // stays near what is live (docs/performance.md, "Memory in file count").
  // The flag exists on every Node line in package.json's engines.
  (await import("node:v8")).setFlagsFromString("--heap-growing-percent=20");
  const { main } = await import("../dist/cli.js");
  process.exitCode = await main(args);
}
