// Start-up: wall time of `nbatch --version` and `--help` against a bare `node -e 0`.
import { median, run } from "./proc.mjs";

export async function measureStartup(ctx, { runs }) {
  const cases = {
    node: [process.execPath, ["-e", "0"]],
    version: [process.execPath, [ctx.bin, "--version"]],
    help: [process.execPath, [ctx.bin, "--help"]],
  };
  const samples = { node: [], version: [], help: [] };
  // One warm-up of each, then interleaved runs so drifting load hits all alike.
  for (let i = -1; i < runs; i++) {
    for (const [name, [cmd, args]] of Object.entries(cases)) {
      const r = await run(cmd, args, { env: ctx.env() });
      if (r.code !== 0) throw new Error(`${args.join(" ")} exited ${r.code}: ${r.stderr}`);
      if (i >= 0) samples[name].push(r.wallMs);
    }
  }
  // Other processes can only add to a start-up time, never take from it:
  // the fastest run is the cost itself, the median shows the noise.
  const min = (v) => Math.min(...v);
  return {
    nodeMs: min(samples.node),
    versionMs: min(samples.version),
    helpMs: min(samples.help),
    medians: { node: median(samples.node), version: median(samples.version), help: median(samples.help) },
    samples,
  };
}
