// What the GitHub double records of the reports sent to it: check runs (each with its history),
// commit statuses and issue comments, with the REST routes that write and read them.
import {
  applyCheckRun,
  type CheckRun,
  type CommitStatus,
  type Ctx,
  checkRunJson,
  commentJson,
  type Handler,
  HttpError,
  type IssueComment,
  seen,
} from "./github-model.js";

export class Reports {
  private readonly checkRunList: CheckRun[] = [];
  private readonly statusList: CommitStatus[] = [];
  private readonly statusRepo = new Map<number, string>();
  private readonly commentList: IssueComment[] = [];

  constructor(
    /** The double's next object id (shared with its other objects). */
    private readonly ids: () => number,
    private readonly appId: number,
    private readonly baseUrl: () => string,
  ) {}

  checkRuns(repo?: string, headSha?: string): CheckRun[] {
    return this.checkRunList.filter(
      (c) => (!repo || c.repo === repo) && (!headSha || c.head_sha === headSha),
    );
  }

  statuses(repo: string, sha: string): CommitStatus[] {
    return this.statusList.filter((s) => s.sha === sha && this.statusRepo.get(s.id) === repo);
  }

  comments(repo: string, issue?: number): IssueComment[] {
    return this.commentList.filter(
      (c) => c.repo === repo && (issue === undefined || c.issue === issue),
    );
  }

  routes(on: (key: string, h: Handler) => void, repoOf: (c: Ctx) => string): void {
    on("POST /repos/{owner}/{repo}/check-runs", (c) => {
      const repo = repoOf(c);
      const b = c.body as Record<string, unknown>;
      const run: CheckRun = {
        id: this.ids(),
        repo,
        name: String(b.name),
        head_sha: String(b.head_sha),
        status: "queued",
        conclusion: null,
        details_url: null,
        external_id: null,
        started_at: null,
        completed_at: null,
        output: { title: null, summary: null, text: null },
        actions: [],
        history: [],
        seen: { created: seen(), completed: null },
      };
      applyCheckRun(run, b);
      this.checkRunList.push(run);
      return { status: 201, body: checkRunJson(run) };
    });
    const checkRunOf = (c: Ctx): CheckRun => {
      const repo = repoOf(c);
      const run = this.checkRunList.find(
        (r) => r.id === Number(c.params.check_run_id) && r.repo === repo,
      );
      if (!run) throw new HttpError(404, "Not Found");
      return run;
    };
    on("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", (c) => {
      const run = checkRunOf(c);
      applyCheckRun(run, c.body as Record<string, unknown>);
      return { status: 200, body: checkRunJson(run) };
    });
    on("GET /repos/{owner}/{repo}/check-runs/{check_run_id}", (c) => ({
      status: 200,
      body: checkRunJson(checkRunOf(c)),
    }));
    on("GET /repos/{owner}/{repo}/commits/{ref}/check-runs", (c) => {
      const repo = repoOf(c);
      const name = c.query.get("check_name");
      const appId = c.query.get("app_id");
      // Newest first, as GitHub lists them; every run here was created by this double's app.
      const newest = this.checkRuns(repo, c.params.ref)
        .filter((r) => (!name || r.name === name) && (!appId || Number(appId) === this.appId))
        .reverse();
      // filter=latest (the default) keeps the most recent run of each name.
      const all =
        c.query.get("filter") === "all"
          ? newest
          : newest.filter((r, i) => newest.findIndex((n) => n.name === r.name) === i);
      const perPage = Number(c.query.get("per_page") ?? 30);
      const page = Number(c.query.get("page") ?? 1);
      const slice = all.slice((page - 1) * perPage, page * perPage);
      return {
        status: 200,
        body: { total_count: all.length, check_runs: slice.map(checkRunJson) },
      };
    });

    on("POST /repos/{owner}/{repo}/statuses/{sha}", (c) => {
      const repo = repoOf(c);
      const b = c.body as Record<string, string | undefined>;
      const s: CommitStatus = {
        id: this.ids(),
        sha: c.params.sha!,
        state: b.state!,
        context: b.context ?? "default",
        description: b.description ?? null,
        target_url: b.target_url ?? null,
      };
      this.statusList.push(s);
      this.statusRepo.set(s.id, repo);
      return {
        status: 201,
        body: {
          ...s,
          url: `${this.baseUrl()}/repos/${repo}/statuses/${s.sha}`,
          created_at: new Date().toISOString(),
          updated_at: new Date().toISOString(),
        },
      };
    });

    on("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", (c) => {
      const repo = repoOf(c);
      const body = String((c.body as { body: string }).body);
      const comment: IssueComment = {
        id: this.ids(),
        repo,
        issue: Number(c.params.issue_number),
        body,
        history: [body],
      };
      this.commentList.push(comment);
      return { status: 201, body: commentJson(this.baseUrl(), comment) };
    });
    on("GET /repos/{owner}/{repo}/issues/{issue_number}/comments", (c) => {
      const repo = repoOf(c);
      return {
        status: 200,
        body: this.comments(repo, Number(c.params.issue_number)).map((x) =>
          commentJson(this.baseUrl(), x),
        ),
      };
    });
    on("PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}", (c) => {
      const repo = repoOf(c);
      const comment = this.commentList.find(
        (x) => x.id === Number(c.params.comment_id) && x.repo === repo,
      );
      if (!comment) throw new HttpError(404, "Not Found");
      comment.body = String((c.body as { body: string }).body);
      comment.history.push(comment.body);
      return { status: 200, body: commentJson(this.baseUrl(), comment) };
    });
  }
}
