// Commit comparisons as GitHub computes them, read from a real git repository.
import { execFileSync } from "node:child_process";

interface GitComparison {
  mergeBase: string;
  ahead: string[];
  behind: number;
  files: { status: string; filename: string; previous?: string }[];
}

const CHANGE: Record<string, string> = {
  A: "added",
  D: "removed",
  M: "modified",
  R: "renamed",
  C: "copied",
  T: "changed",
};

function git(dir: string, ...args: string[]): string | undefined {
  try {
    return execFileSync("git", ["-C", dir, ...args], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      env: { PATH: process.env.PATH, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" },
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch {
    return undefined;
  }
}

/** What GitHub computes for BASE...HEAD: the diff from their merge base, commits each side. */
export function compareCommits(dir: string, base: string, head: string): GitComparison | undefined {
  const mergeBase = git(dir, "merge-base", base, head)?.trim();
  if (!mergeBase) return undefined;
  const ahead = (git(dir, "rev-list", "--reverse", `${base}..${head}`) ?? "").split("\n");
  const behind = Number(git(dir, "rev-list", "--count", `${head}..${base}`)?.trim() ?? 0);
  // -z: paths are NUL-terminated and never quoted, whatever characters they hold.
  const raw = (git(dir, "diff", "--name-status", "-z", "-M", `${base}...${head}`) ?? "").split(
    "\0",
  );
  const files: GitComparison["files"] = [];
  for (let i = 0; i < raw.length - 1; ) {
    const code = raw[i++]!;
    const status = CHANGE[code[0]!] ?? "modified";
    if (code[0] === "R" || code[0] === "C") {
      const previous = raw[i++]!;
      files.push({ status, previous, filename: raw[i++]! });
    } else files.push({ status, filename: raw[i++]! });
  }
  return { mergeBase, ahead: ahead.filter(Boolean), behind, files };
}

function commitJson(repo: string, sha: string) {
  const api = `https://api.github.com/repos/${repo}`;
  const person = { name: "t", email: "t@example.test", date: "2024-01-01T00:00:00Z" };
  return {
    url: `${api}/commits/${sha}`,
    sha,
    node_id: `C_${sha.slice(0, 10)}`,
    html_url: `https://github.com/${repo}/commit/${sha}`,
    comments_url: `${api}/commits/${sha}/comments`,
    commit: {
      url: `${api}/git/commits/${sha}`,
      author: person,
      committer: person,
      message: "commit",
      comment_count: 0,
      tree: { sha: "0".repeat(40), url: `${api}/git/trees/${"0".repeat(40)}` },
    },
    author: null,
    committer: null,
    parents: [],
  };
}

/** The commit-comparison GitHub answers; files capped at 300, as GitHub caps them. */
export function comparisonJson(
  repo: string,
  base: string,
  head: string,
  cmp: GitComparison,
  perPage: number,
) {
  const api = `https://api.github.com/repos/${repo}`;
  const web = `https://github.com/${repo}`;
  const ahead = cmp.ahead.length;
  const status =
    ahead === 0 && cmp.behind === 0
      ? "identical"
      : cmp.behind === 0
        ? "ahead"
        : ahead === 0
          ? "behind"
          : "diverged";
  return {
    url: `${api}/compare/${base}...${head}`,
    html_url: `${web}/compare/${base}...${head}`,
    permalink_url: `${web}/compare/acme:${base}...acme:${head}`,
    diff_url: `${web}/compare/${base}...${head}.diff`,
    patch_url: `${web}/compare/${base}...${head}.patch`,
    base_commit: commitJson(repo, base),
    merge_base_commit: commitJson(repo, cmp.mergeBase),
    status,
    ahead_by: ahead,
    behind_by: cmp.behind,
    total_commits: ahead,
    commits: cmp.ahead.slice(0, perPage).map((s) => commitJson(repo, s)),
    files: cmp.files.slice(0, 300).map((f) => ({
      sha: "0".repeat(40),
      filename: f.filename,
      status: f.status,
      additions: 1,
      deletions: 0,
      changes: 1,
      blob_url: `${web}/blob/${head}/${f.filename}`,
      raw_url: `${web}/raw/${head}/${f.filename}`,
      contents_url: `${api}/contents/${f.filename}?ref=${head}`,
      ...(f.previous ? { previous_filename: f.previous } : {}),
    })),
  };
}
