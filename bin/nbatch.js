#!/usr/bin/env node
// `nbatch --version` is answered before loading the CLI: scripts call it
// often, and it then costs little more than starting Node.
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  const { readFileSync } = await import("node:fs");
  process.stdout.write(JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version + "\n");
} else {
  (await import("../dist/heap.js")).smallYoungGeneration();
  const { main } = await import("../dist/cli.js");
  process.exitCode = await main(args);
}
