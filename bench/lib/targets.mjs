// The targets, checked against the measurements, and the table that shows them.
const MB = 1024 * 1024;
const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
const ms = (v) => `${Math.round(v)} ms`;
const mb = (kb) => `${(kb / 1024).toFixed(0)} MB`;
const x = (v) => `${v.toFixed(2)}x`;

export function targets(r) {
  const rows = [];
  // pass: true, false, or null when the measurement could not be made here.
  const add = (area, target, measured, pass) => rows.push({ area, target, measured, pass: pass === null ? null : Boolean(pass) });
  if (r.upload) uploadTargets(r.upload, add);
  if (r.link) linkTargets(r.link, add);
  if (r.incremental) incrementalTargets(r.incremental, r.upload, add);
  if (r.kinds) kindTargets(r.kinds, add);
  if (r.crc) crcTargets(r.crc, add);
  if (r.memory) memoryTargets(r.memory, add);
  if (r.scale) scaleTargets(r.scale, add);
  if (r.apply) applyTargets(r.apply, add);
  if (r.logs) logTargets(r.logs, add);
  if (r.startup) startupTargets(r.startup, add);
  if (r.fanout) fanoutTargets(r.fanout, add);
  return rows;
}

function uploadTargets(u, add) {
  if (u.zipAwsMs === undefined) add("Pack+upload", "≥ 2x faster than zip -r + aws s3 cp", "zip or the AWS CLI is not installed", null);
  else add("Pack+upload", "≥ 2x faster than zip -r + aws s3 cp", `${s(u.nbatchMs)} vs ${s(u.zipAwsMs)}: ${x(u.zipAwsMs / u.nbatchMs)} faster`, u.zipAwsMs / u.nbatchMs >= 2);
  add("Pack+upload", "≤ 1.3x uploading the finished archive", `${s(u.nbatchMs)} vs ${s(u.floorMs)} for the same ${(u.archiveBytes / MB).toFixed(0)} MiB: ${x(u.floorRatio)}`, u.floorRatio <= 1.3);
  add("Unchanged re-run", "uploads 0 bytes", `${u.rerun.uploadedBytes} bytes in ${u.rerun.s3Requests} S3 requests`, u.rerun.uploadedBytes === 0);
  add("Unchanged re-run", "SubmitJob in < 1 s", `${ms(u.rerun.submitMs)} (scan+fingerprint ${ms(u.rerun.scanMs)})`, u.rerun.submitMs < 1000);
  add("Memory", "peak RSS < 200 MB", `${mb(u.rss.refKB)} (highest run ${mb(u.rss.refMaxKB)})`, u.rss.refKB < 200 * 1024);
  if (u.rss.bigKB === undefined) return;
  const growth = u.rss.bigKB / u.rss.refKB;
  add("Memory", "< 20% growth from 1x to 4x", `${mb(u.rss.refKB)} -> ${mb(u.rss.bigKB)} (${((growth - 1) * 100).toFixed(0)}%)`, growth < 1.2);
}

// Not in the list: the same target on a slower link, where nbatch compresses.
function linkTargets(l, add) {
  add(`Pack+upload, ${(l.bytesPerSecond / MB).toFixed(0)} MiB/s link`, "≤ 1.3x uploading the finished archive", `${s(l.nbatchMs)} vs ${s(l.floorMs)} for the same ${(l.archiveBytes / MB).toFixed(0)} MiB: ${x(l.floorRatio)}`, l.floorRatio <= 1.3);
}

const MiBps = (bps) => `${(bps / MB).toFixed(0)} MiB/s`;

function kindTargets(k, add) {
  for (const kind of k.kinds) {
    const { local, link } = kind;
    if (local.zipAwsMs === undefined) add(`Pack+upload, ${kind.name}`, "≥ 2x faster than zip -r + aws s3 cp", "zip or the AWS CLI is not installed", null);
    else add(`Pack+upload, ${kind.name}`, "≥ 2x faster than zip -r + aws s3 cp", `${s(local.nbatchMs)} vs ${s(local.zipAwsMs)}: ${x(local.zipAwsMs / local.nbatchMs)} faster`, local.zipAwsMs / local.nbatchMs >= 2);
    if (link.floorMs === undefined) continue;
    const ratio = link.nbatchMs / link.floorMs;
    const mib = (b) => `${(b / MB).toFixed(1)} MiB`;
    add(`Pack+upload, ${kind.name}, ${MiBps(k.bytesPerSecond)} link`, "≤ 1.2x uploading zip -9's archive", `${s(link.nbatchMs)} (${mib(link.archiveBytes)}) vs ${s(link.floorMs)} (${mib(kind.floorBytes)}): ${x(ratio)}`, ratio <= 1.2);
  }
}

function crcTargets(c, add) {
  const gbps = (v) => `${v.toFixed(2)} GB/s`;
  add("CRC-32", "native, no bottleneck", `zlib.crc32 ${gbps(c.nativeGBps)} against a JavaScript table's ${gbps(c.tableGBps)} (${x(c.nativeGBps / c.tableGBps)}), one core`, c.nativeGBps >= 4 * c.tableGBps);
}

const MEMORY_LIMIT_KB = 200 * 1024;

function memoryTargets(m, add) {
  for (const c of m.cases) {
    if (c.skipped) {
      add(`Memory, ${c.name}`, "peak RSS < 200 MB, --local and --aws-batch", `skipped: ${c.skipped}`, null);
      continue;
    }
    add(`Memory, ${c.name}`, "peak RSS < 200 MB, --local and --aws-batch", `${mb(c.local.rssKB)} and ${mb(c.aws.rssKB)}`, c.local.rssKB < MEMORY_LIMIT_KB && c.aws.rssKB < MEMORY_LIMIT_KB);
  }
}

/** Per GB and per 10,000 files, so scales compare. */
const perGB = (ms, bytes) => ms / (bytes / 1e9);
const per10k = (ms, files) => ms / (files / 10_000);

function scaleTargets(sc, add) {
  const [first] = sc.rows;
  const at16 = sc.rows.find((r) => r.name === "16x") ?? sc.rows[sc.rows.length - 1];
  add(`Unchanged re-run, ${at16.name}`, "SubmitJob in < 1 s", `${ms(at16.rerunSubmitMs)} for ${at16.files.toLocaleString("en-US")} files, ${(at16.bytes / 1e9).toFixed(1)} GB (scan+fingerprint ${ms(at16.scanMs + at16.fingerprintMs)})`, at16.rerunSubmitMs < 1000);
  const last = sc.rows[sc.rows.length - 1];
  const growth = {
    scan: per10k(last.scanMs, last.files) / per10k(first.scanMs, first.files),
    "pack+upload": perGB(last.packUploadMs, last.bytes) / perGB(first.packUploadMs, first.bytes),
    apply: perGB(last.apply.ms, last.apply.bytes) / perGB(first.apply.ms, first.apply.bytes),
  };
  const worst = Math.max(...Object.values(growth));
  add("Cost against size", `per unit at ${last.name} ≤ 1.5x that at ${first.name}`, Object.entries(growth).map(([k, v]) => `${k} ${x(v)}`).join(", "), worst <= 1.5);
}

/** Pack+upload by kind of data and link (measurements behind the targets above). */
function renderKinds(k) {
  if (!k) return [];
  const mib = (b) => (b === undefined ? "-" : `${(b / MB).toFixed(1)}`);
  return [
    "",
    `| Data kind (MiB) | nbatch, local S3 | zip -r + aws s3 cp | nbatch, ${MiBps(k.bytesPerSecond)} | zip -9 floor, ${MiBps(k.bytesPerSecond)} | archive MiB: nbatch local / link, zip -r, zip -9 |`,
    "|---|---|---|---|---|---|",
    ...k.kinds.map(
      (c) =>
        `| ${c.name} (${mib(c.inputBytes)}) | ${s(c.local.nbatchMs)} | ${c.local.zipAwsMs === undefined ? "-" : s(c.local.zipAwsMs)} | ${s(c.link.nbatchMs)} | ${c.link.floorMs === undefined ? "-" : s(c.link.floorMs)} | ${mib(c.local.archiveBytes)} / ${mib(c.link.archiveBytes)}, ${mib(c.local.zipRBytes)}, ${mib(c.floorBytes)} |`,
    ),
  ];
}

function renderMemory(m) {
  if (!m) return [];
  return ["", "| Peak RSS of nbatch build | --local | --aws-batch |", "|---|---|---|", ...m.cases.map((c) => (c.skipped ? `| ${c.name} | skipped | skipped |` : `| ${c.name} | ${mb(c.local.rssKB)} | ${mb(c.aws.rssKB)} |`))];
}

function renderScale(sc) {
  if (!sc) return [];
  const per = (v, unit) => `${Math.round(v)} ms/${unit}`;
  return [
    "",
    "| Scale | GB | files | scan | fingerprint | pack+upload | re-run to SubmitJob | apply a tenth | scan per 10k files | pack+upload per GB | apply per GB |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
    ...sc.rows.map(
      (r) =>
        `| ${r.name} | ${(r.bytes / 1e9).toFixed(2)} | ${r.files.toLocaleString("en-US")} | ${ms(r.scanMs)} | ${ms(r.fingerprintMs)} | ${s(r.packUploadMs)} | ${ms(r.rerunSubmitMs)} | ${s(r.apply.ms)} | ${per(per10k(r.scanMs, r.files), "10k")} | ${per(perGB(r.packUploadMs, r.bytes), "GB")} | ${per(perGB(r.apply.ms, r.apply.bytes), "GB")} |`,
    ),
    ...(sc.note ? ["", sc.note] : []),
  ];
}

/** What following the link is worth: pack+upload by compression setting, on each link (a measurement, not a target). */
function renderSettings(r) {
  const rows = [
    ["local S3 on this machine", r.upload?.settings],
    [`${((r.link?.bytesPerSecond ?? 0) / MB).toFixed(0)} MiB/s link`, r.link?.settings],
  ].filter(([, t]) => t);
  if (!rows.length) return [];
  const cell = (v, t) => (v === Math.min(t.adaptiveMs, t.storeMs, t.level1Ms) ? `**${s(v)}**` : s(v));
  return [
    "",
    "| Pack+upload by compression setting | following the link (nbatch) | storing | level 1 |",
    "|---|---|---|---|",
    ...rows.map(([name, t]) => `| ${name} | ${cell(t.adaptiveMs, t)} | ${cell(t.storeMs, t)} | ${cell(t.level1Ms, t)} |`),
  ];
}

const kb = (b) => `${(b / 1024).toFixed(0)} KiB`;

function incrementalTargets(inc, upload, add) {
  for (const [label, at] of [["1x", inc.reference], [`${inc.factor}x`, inc.big]].filter(([, at]) => at)) {
    const one = at.oneFile;
    add(`Incremental, ${label}`, "one small file changed: uploads < 1 MB", `${kb(one.uploadedBytes)} of ${at.files.toLocaleString("en-US")} files`, one.uploadedBytes < MB);
    add(`Incremental, ${label}`, "one small file changed: SubmitJob in < 1.5 s", ms(one.submitMs), one.submitMs < 1500);
    const p = at.onePercent;
    const allowed = p.changedBytes * 1.1 + p.treeBytes;
    add(`Incremental, ${label}`, "1% of files changed: uploads ≈ the changed bytes + the tree", `${(p.uploadedBytes / MB).toFixed(1)} MiB for ${p.files} files of ${(p.changedBytes / MB).toFixed(1)} MiB, tree ${kb(p.treeBytes)}`, p.uploadedBytes <= allowed);
    const a = at.assembly;
    add(`Incremental, ${label}`, "agent: fresh tree at least as fast as one archive", `${s(a.freshMs)} vs ${s(a.oneArchiveMs)} (${a.requests.fresh} vs ${a.requests.oneArchive} requests)`, a.freshMs <= a.oneArchiveMs * 1.05);
    add(`Incremental, ${label}`, "agent: base + increments ≤ 1.5x one archive", `${s(a.incrementalMs)} vs ${s(a.oneArchiveMs)} (${a.requests.incremental} requests)`, a.incrementalMs <= a.oneArchiveMs * 1.5);
  }
  if (upload?.settings) add("Incremental", "fresh directory ≤ 1.3x the whole-archive pack+upload", `${s(upload.nbatchMs)} vs ${s(upload.settings.adaptiveMs)}: ${x(upload.nbatchMs / upload.settings.adaptiveMs)}`, upload.nbatchMs <= 1.3 * upload.settings.adaptiveMs);
}

function applyTargets(a, add) {
  const ratio = a.big.applyMs / a.reference.applyMs;
  add("Applying results", "cost follows the change, not the directory", `same ${a.reference.changedFiles}-file change: ${ms(a.reference.applyMs)} at 1x, ${ms(a.big.applyMs)} at 4x (${x(ratio)})`, ratio <= 1.5);
  add("Applying results", "unchanged files not read when size+mtime tell", `re-applying read ${(a.big.reapplyReadBytes / 1024).toFixed(0)} KiB (changed data: ${(a.big.changedBytes / MB).toFixed(1)} MiB)`, a.big.reapplyReadBytes < MB);
}

function logTargets({ tail: t, lines: l }, add) {
  add("Log tailing", "≤ 12 DescribeJobs per minute", t.describeJobsPerMinute.toFixed(1), t.describeJobsPerMinute <= 12);
  add("Log tailing", "≤ 60 GetLogEvents per minute", t.getLogEventsPerMinute.toFixed(1), t.getLogEventsPerMinute <= 60);
  const after = t.latencyMs.afterSilenceMax === undefined ? "n/a" : s(t.latencyMs.afterSilenceMax);
  add("Log tailing", "added latency < 2 s", `max ${s(t.latencyMs.max)} (steady median ${s(t.latencyMs.steadyMedian)}, after silence ${after}), ${t.missing} lines lost`, t.latencyMs.max < 2000 && t.missing === 0);
  // Flat: no growth from half-way to 90% of the lines, once the heap has
  // reached its working size (the end adds the drain and the download, whatever the length).
  add("Log tailing", `memory flat over ${l.lines.toLocaleString("en-US")} lines`, `RSS ${mb(l.rssAt50PercentKB)} half-way, ${mb(l.rssAt90PercentKB)} at 90%, peak ${mb(l.peakKB)}`, l.rssAt90PercentKB <= l.rssAt50PercentKB * 1.1);
}

function startupTargets(st, add) {
  const ratio = st.versionMs / st.nodeMs;
  add("Start-up", "nbatch --version ≤ 1.7x node -e 0", `fastest of ${st.samples.node.length}: ${ms(st.versionMs)} vs ${ms(st.nodeMs)}: ${x(ratio)} (--help ${ms(st.helpMs)})`, ratio <= 1.7);
}

// The fan-out group: results flow while the children run, and the last lands
// soon after the last child ends; API use stays under the process's budgets:
// a run that succeeds reads no log, one with failures and followed children
// reads them within 5 GetLogEvents in any second.
function fanoutTargets({ hundred: h, thousand: k }, add) {
  for (const f of [h, k]) {
    const name = `Fan-out, ${f.children.toLocaleString("en-US")} children`;
    const late = f.lastAppliedS - f.lastChildEndedS;
    add(name, "every result applied, the last ≤ 10 s after the last child ends", `${f.applied} applied; first at ${f.firstAppliedS.toFixed(1)} s, last child ended at ${f.lastChildEndedS.toFixed(1)} s, last applied at ${f.lastAppliedS.toFixed(1)} s (+${late.toFixed(1)} s; each child ran ${(f.childRunMs / 1000).toFixed(0)} s)`, f.applied === f.children && late <= 10 && f.firstAppliedS < f.lastChildEndedS);
    add(name, "≤ 5 Batch calls in any second", `busiest second ${f.busiestSecondBatchCalls}; per minute ${f.describeJobsPerMinute.toFixed(0)} DescribeJobs, ${f.listJobsPerMinute.toFixed(0)} ListJobs`, f.busiestSecondBatchCalls <= 5);
  }
  add(`Fan-out, ${h.children.toLocaleString("en-US")} children`, "no log calls when all succeed and none is followed", `${h.getLogEvents} GetLogEvents`, h.getLogEvents === 0);
  add(
    `Fan-out, ${k.children.toLocaleString("en-US")} children`,
    "≤ 5 log calls in any second; each failure told with its last lines",
    `${k.failing} failed: ${k.failedTold} told, ${k.failedWithLastLines} with last lines; ${k.followed} followed (${k.followedLines} lines); ${k.getLogEvents} GetLogEvents (${k.getLogEventsPerMinute.toFixed(0)} a minute), busiest second ${k.busiestSecondLogCalls}`,
    k.busiestSecondLogCalls <= 5 && k.failedTold === k.failing && k.failedWithLastLines === k.failing && k.followedLines > 0,
  );
  add(`Fan-out, ${k.children.toLocaleString("en-US")} children`, "peak RSS < 200 MB", mb(k.peakRssKB ?? 0), k.peakRssKB !== undefined ? k.peakRssKB < 200 * 1024 : null);
}

export function renderTable(r) {
  const lines = ["| Area | Target | Measured | Result |", "|---|---|---|---|"];
  for (const t of r.targets) lines.push(`| ${t.area} | ${t.target} | ${t.measured} | ${t.pass === null ? "SKIP" : t.pass ? "PASS" : "FAIL"} |`);
  lines.push(...renderSettings(r), ...renderKinds(r.kinds), ...renderMemory(r.memory), ...renderScale(r.scale));
  const o = r.options;
  const how = o.quick ? "quick mode: small data, one run, targets indicative only" : `median of ${o.runs} runs`;
  lines.push("", `${r.machine.cpus} CPUs (${r.machine.model}), Node ${r.machine.node}; reference scale ${o.scale}, ${how}; ${r.totalSeconds.toFixed(0)} s in all.`);
  return lines.join("\n") + "\n";
}
