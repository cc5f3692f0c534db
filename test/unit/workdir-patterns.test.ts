import { describe, expect, it } from "vitest";
import { createExcluder, createSelector, DEFAULT_UPLOAD_EXCLUSIONS } from "../../src/tree/patterns.js";

describe("createExcluder with the defaults", () => {
  const exclude = createExcluder([]);

  it.each([
    [".git", true],
    ["sub/__pycache__", true],
    [".aws", true],
    [".ssh", true],
    [".nbatch", true],
    [".snakemake/conda", true],
    ["nested/.snakemake/singularity", true],
  ])("excludes the directory %s", (path, isDir) => {
    expect(exclude(path, isDir).excluded).toBe(true);
  });

  it.each([".env", ".env.local", "config/.env.production", ".envrc", ".netrc", "pkg/mod.pyc"])(
    "excludes the file %s",
    (path) => {
      expect(exclude(path, false).excluded).toBe(true);
    },
  );

  it("lets Snakemake's log and metadata travel", () => {
    expect(exclude(".snakemake", true).excluded).toBe(false);
    expect(exclude(".snakemake/log", true).excluded).toBe(false);
    expect(exclude(".snakemake/log/2024.snakemake.log", false).excluded).toBe(false);
    expect(exclude(".snakemake/metadata", true).excluded).toBe(false);
    expect(exclude("nested/.snakemake/metadata", true).excluded).toBe(false);
  });

  it("keeps conda environment files and ordinary names", () => {
    for (const path of ["environment.yaml", "environment.yml", "envs/env.yaml", "src/env.py", "git.txt"]) {
      expect(exclude(path, false), path).toEqual({ excluded: false });
    }
  });

  it("names the default rule that decided", () => {
    expect(exclude(".git", true)).toEqual({ excluded: true, rule: "default: .git/" });
    expect(exclude("a/b.pyc", false)).toEqual({ excluded: true, rule: "default: *.pyc" });
  });

  it("applies trailing-slash defaults to directories only", () => {
    expect(exclude(".git", false).excluded).toBe(false);
  });
});

describe("createExcluder with user patterns", () => {
  it("reports the user's pattern as written", () => {
    const exclude = createExcluder(["data/raw/"]);
    expect(exclude("data/raw", true)).toEqual({ excluded: true, rule: "data/raw/" });
  });

  it("re-includes a default with `!`", () => {
    const exclude = createExcluder(["!.env"]);
    expect(exclude(".env", false).excluded).toBe(false);
    expect(exclude(".env.local", false).excluded).toBe(true);
  });

  it("matches `**` across directories", () => {
    const exclude = createExcluder(["results/**/*.tmp"]);
    expect(exclude("results/a/b/x.tmp", false)).toEqual({ excluded: true, rule: "results/**/*.tmp" });
    expect(exclude("results/x.tmp", false).excluded).toBe(true);
    expect(exclude("other/x.tmp", false).excluded).toBe(false);
  });

  it("lets the last matching rule win", () => {
    const exclude = createExcluder(["*.log", "!keep.log"]);
    expect(exclude("a/run.log", false).excluded).toBe(true);
    expect(exclude("a/keep.log", false).excluded).toBe(false);
  });

  it("uses no defaults when given an empty default list", () => {
    const exclude = createExcluder([], []);
    expect(exclude(".git", true).excluded).toBe(false);
    expect(DEFAULT_UPLOAD_EXCLUSIONS).toContain(".git/");
  });
});

/** A selector from patterns, which always makes one. */
function selector(include: string[], exclude: string[]): (relPath: string) => boolean {
  const select = createSelector(include, exclude);
  if (!select) throw new Error("no selector");
  return select;
}

describe("createSelector", () => {
  it("is no selection at all when there are no patterns: everything comes back", () => {
    expect(createSelector([], [])).toBeUndefined();
  });

  it("expands braces and matches dot files", () => {
    const select = selector(["results/*.{csv,tsv}"], []);
    expect(select("results/a.csv")).toBe(true);
    expect(select("results/.b.tsv")).toBe(true);
    expect(select("results/a.txt")).toBe(false);
    expect(select("other/a.csv")).toBe(false);
  });

  it("matches a pattern without a slash against the basename at any depth", () => {
    const select = selector(["*.csv"], []);
    expect(select("x.csv")).toBe(true);
    expect(select("deep/er/x.csv")).toBe(true);
    expect(select("deep/er/x.csvx")).toBe(false);
  });

  it("selects everything under a named directory", () => {
    expect(selector(["results/"], [])("results/a/b.txt")).toBe(true);
    expect(selector(["results/"], [])("results.txt")).toBe(false);
    expect(selector(["out/plots"], [])("out/plots/x/y.png")).toBe(true);
    expect(selector(["plots"], [])("out/plots/y.png")).toBe(true);
  });

  it("treats an include starting with `!` as a negation", () => {
    const select = selector(["!*.log"], []);
    expect(select("a/b.txt")).toBe(true);
    expect(select("a/b.log")).toBe(false);
  });

  it("lets excludes win over includes", () => {
    const select = selector(["results/**"], ["**/*.bam", "results/tmp/"]);
    expect(select("results/a.vcf")).toBe(true);
    expect(select("results/a.bam")).toBe(false);
    expect(select("results/tmp/x.vcf")).toBe(false);
  });

  it("anchors a leading slash to the root", () => {
    const select = selector(["/top.txt"], []);
    expect(select("top.txt")).toBe(true);
    expect(select("sub/top.txt")).toBe(false);
  });
});
