import ignore from "ignore";
import picomatch from "picomatch";

/**
 * What never travels to the job unless the user re-includes it with `!`.
 * Snakemake's log/ and metadata/ do travel: a rerun needs them to know what
 * is up to date. The secret-holding names are exact, so environment.yaml
 * (a conda spec) is not caught by `.env*`. Credential files with names only
 * tools use are left out at any depth; `*.pem` and `*.key` only in the root,
 * where a home directory or a project keeps its keys, since data (TLS test
 * fixtures, Keynote's .key files) may legitimately have those endings deeper
 * down. docs/security.md lists them.
 */
export const DEFAULT_UPLOAD_EXCLUSIONS: readonly string[] = [
  ".git/",
  "**/.snakemake/*",
  "!**/.snakemake/log/",
  "!**/.snakemake/metadata/",
  "__pycache__/",
  "*.pyc",
  ".env",
  ".env.*",
  ".envrc",
  ".netrc",
  ".aws/",
  ".ssh/",
  ".git-credentials",
  ".npmrc",
  ".pypirc",
  ".pgpass",
  "**/.docker/config.json",
  "**/.kube/config",
  "id_rsa",
  "id_dsa",
  "id_ecdsa",
  "id_ecdsa_sk",
  "id_ed25519",
  "id_ed25519_sk",
  "/*.pem",
  "/*.key",
  // Reserved: nbatch keeps its own metadata under .nbatch/ inside archives.
  ".nbatch/",
  // nbatch's own files being written (tree/temp-files.ts), left behind only by a process killed outright.
  ".nbatch-tmp-*",
];

export interface Exclusion {
  excluded: boolean;
  rule?: string;
}

/** A pattern, and where it was written when that is worth saying ("nbatch.ini", ".nbatchignore:3"). */
export interface SourcedPattern {
  pattern: string;
  source?: string;
  /** Written by the project (its .nbatchignore or nbatch.ini), not by the user running nbatch. */
  project?: boolean;
}

/**
 * Gitignore semantics (last matching rule wins, `!` re-includes, trailing
 * `/` matches directories only). Defaults go first so a user `!pattern`
 * can re-include what a default excludes. A project's `!` cannot: a
 * repository anyone may have written must not send its runner's secrets,
 * so what the defaults exclude is judged again without the project's rules.
 */
export function createExcluder(
  userPatterns: readonly (string | SourcedPattern)[],
  defaults: readonly string[] = DEFAULT_UPLOAD_EXCLUSIONS,
): (relPath: string, isDir: boolean) => Exclusion {
  const sourced = userPatterns.map((p) => (typeof p === "string" ? { pattern: p } : p));
  const rules = (ps: readonly SourcedPattern[]) =>
    ignore({ ignorecase: false }).add([...defaults.map((pattern) => ({ pattern, mark: "default" })), ...ps.map((p) => ({ pattern: p.pattern, mark: p.source }))]);
  const all = rules(sourced);
  const withoutProject = sourced.some((p) => p.project) ? rules(sourced.filter((p) => !p.project)) : undefined;
  return (relPath, isDir) => {
    const path = isDir ? `${relPath}/` : relPath;
    let result = all.test(path);
    // Only a path some `!` re-included can be one a default excludes: the rest need no second look.
    if (!result.ignored && result.unignored && withoutProject) {
      const kept = withoutProject.test(path);
      if (kept.ignored && kept.rule?.mark === "default") result = kept;
    }
    if (!result.ignored || !result.rule) return { excluded: false };
    const { pattern, mark } = result.rule;
    return { excluded: true, rule: mark ? `${mark}: ${pattern}` : pattern };
  };
}

/**
 * Selection for --download / --exclude-from-download. Globs with `**` and
 * braces, dot files included. A pattern without a slash matches a basename
 * at any depth, as in gitignore; a pattern naming a directory (or ending in
 * `/`) selects everything under it. An include pattern starting with `!`
 * excludes; no positive include means everything; excludes always win.
 */
export function createSelector(include: readonly string[], exclude: readonly string[]): ((relPath: string) => boolean) | undefined {
  if (include.length + exclude.length === 0) return undefined;
  const positive = include.filter((p) => !p.startsWith("!"));
  const negative = [...include.filter((p) => p.startsWith("!")).map((p) => p.slice(1)), ...exclude];
  const wanted = positive.length > 0 ? compile(positive) : () => true;
  const unwanted = negative.length > 0 ? compile(negative) : () => false;
  return (relPath) => wanted(relPath) && !unwanted(relPath);
}

/**
 * --each: the paths that match these globs (the --download syntax), each
 * path itself rather than what is under it; a pattern ending in `/` matches
 * directories only, and one starting with `!` excludes.
 */
export function createMatcher(patterns: readonly string[]): (relPath: string, isDir: boolean) => boolean {
  const compileOwn = (list: readonly string[]) => {
    // The pattern as written (expand's first glob), less the "/**" that makes a directory pattern take its contents.
    const tests = list.map((raw) => ({ dirOnly: raw.endsWith("/"), test: picomatch(expand(raw.replace(/\/+$/, ""))[0]!, { dot: true }) }));
    return (path: string, isDir: boolean) => tests.some((t) => (!t.dirOnly || isDir) && t.test(path));
  };
  const wanted = compileOwn(patterns.filter((p) => !p.startsWith("!")));
  const unwanted = compileOwn(patterns.filter((p) => p.startsWith("!")).map((p) => p.slice(1)));
  return (path, isDir) => wanted(path, isDir) && !unwanted(path, isDir);
}

function compile(patterns: readonly string[]): (relPath: string) => boolean {
  const globs = patterns.flatMap(expand);
  return picomatch(globs, { dot: true });
}

function expand(raw: string): string[] {
  const trimmed = raw.replace(/^(\.\/)+/, "");
  const anchored = trimmed.startsWith("/");
  const dirOnly = trimmed.endsWith("/");
  let p = trimmed.replace(/^\/+|\/+$/g, "");
  if (p === "") return ["**"];
  if (!anchored && !p.includes("/")) p = `**/${p}`;
  return dirOnly ? [`${p}/**`] : [p, `${p}/**`];
}

/**
 * What the results bring back although uploads leave it out: Snakemake's
 * storage plugins keep the inputs they downloaded under .snakemake/storage/.
 * A local copy is the laptop's own and never sent; the job's comes home,
 * so the next run, here or there, finds them.
 */
export const RESULTS_REINCLUDED: readonly string[] = ["!**/.snakemake/storage/"];
