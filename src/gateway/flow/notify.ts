// Who is told that a commit waits for an approval (`trust.notify`), once when it starts waiting and
// once more as a reminder: a comment on the PR mentioning teams or users, and a JSON post to a
// webhook whose URL is a secret. Both go through the outbox (stored before they are sent, retried,
// once per key). A notice is built from the inbox's record alone: the repository, the PR, the
// commit, its author, the rules, counts and a few changed paths. Never a log line, never a secret,
// never the PR's title or body.
import type { NotifyConfig } from "../../config/trust-schema.js";
import type { ApprovalWait, NewOutboxItem } from "../../store/index.js";
import { code } from "../checks.js";
import { commentItem } from "../outbox/index.js";
import { withSecretSet } from "./secret-set.js";
import { type Flow, short } from "./types.js";

export type NoticeKind = "waiting" | "reminder";

export const WEBHOOK_KIND = "approval_webhook";
/** The key of the `webhook` secret set that holds the URL. */
export const WEBHOOK_KEY = "WEBHOOK_URL";
const PATHS_SENT = 5;

interface Links {
  pr?: string;
  inbox?: string;
}

function linksOf(flow: Flow, w: Pick<ApprovalWait, "repo" | "pr">): Links {
  const web = flow.o.webUrl?.replace(/\/+$/, "");
  const pub = flow.o.publicUrl?.replace(/\/+$/, "");
  return {
    ...(web && /^https?:\/\//.test(web) ? { pr: `${web}/${w.repo}/pull/${w.pr}` } : {}),
    ...(pub ? { inbox: `${pub}/approvals` } : {}),
  };
}

/** What the approval still needs, one clause per open requirement. */
function needs(w: ApprovalWait, quote: (p: string) => string): string[] {
  return w.view.requirements
    .filter((r) => r.missing > 0)
    .map((r) => {
      const rule = r.name === "default" ? "" : ` for rule ${quote(r.name)}`;
      const so = r.by.length ? `; so far ${r.by.join(", ")}, ${r.missing} more` : "";
      return `${r.text}${rule}${so}`;
    });
}

function changed(w: ApprovalWait, quote: (p: string) => string): string {
  const v = w.view;
  if (v.pathCount === 0) return "";
  const shown = v.paths.slice(0, PATHS_SENT);
  const more = v.pathCount - shown.length;
  return `Changed: ${shown.map(quote).join(", ")}${more > 0 ? ` and ${more} more` : ""}.`;
}

const mentionOf = (m: string) => `@${m}`;

export function commentText(
  w: ApprovalWait,
  mention: string[],
  kind: NoticeKind,
  links: Links,
): string {
  const who = mention.map(mentionOf).join(" ");
  const head = `${who}: commit ${short(w.sha)} by ${code(w.author)}`;
  const lines = [
    kind === "waiting"
      ? `${head} waits for an approval.`
      : `${head} still waits for an approval (since ${new Date(w.since).toISOString()}).`,
    "",
    ...needs(w, code).map((n) => `- It needs ${n}.`),
  ];
  const c = changed(w, code);
  if (c) lines.push("", c);
  const d = w.view.delta;
  if (d) {
    lines.push(
      "",
      `${d.count} file${d.count === 1 ? "" : "s"} changed since the last approved commit ${short(d.fromSha)} ([compare](${d.url})).`,
    );
  }
  lines.push(
    "",
    `A trusted member approves it, after reviewing it, with \`/ok-to-test ${w.sha}\`${links.inbox ? ` or from the [approval inbox](${links.inbox})` : ""}.`,
  );
  return lines.join("\n");
}

/** Slack's markup characters, escaped: no mention, link or markup gets out of a name or path. */
const escapeChat = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** The webhook's JSON: `text` for chat incoming webhooks, and the same facts as fields. */
export function webhookBody(w: ApprovalWait, kind: NoticeKind, links: Links) {
  const quoted = (p: string) => `\`${escapeChat(p.replace(/`/g, "'").replace(/[\r\n]+/g, " "))}\``;
  const what = kind === "waiting" ? "waits" : "still waits";
  const link = links.inbox ?? links.pr;
  const text = [
    `${escapeChat(w.repo)}#${w.pr}: commit ${short(w.sha)} by ${escapeChat(w.author)} ${what} for an approval.`,
    ...needs(w, quoted).map((n) => `It needs ${n}.`),
    changed(w, quoted),
    link ? `<${link}|Review and approve>` : "",
  ]
    .filter(Boolean)
    .join("\n");
  return {
    text,
    event: `approval.${kind}`,
    repository: w.repo,
    pull_request: w.pr,
    sha: w.sha,
    author: w.author,
    waiting_since: new Date(w.since).toISOString(),
    rules: w.view.requirements.map((r) => ({
      name: r.name,
      needs: r.text,
      approved_by: r.by,
      missing: r.missing,
    })),
    changed_paths: w.view.paths.slice(0, PATHS_SENT),
    changed_count: w.view.pathCount,
    ...(links.pr ? { pull_request_url: links.pr } : {}),
    ...(links.inbox ? { inbox_url: links.inbox } : {}),
  };
}

/** The outbox items of one notice, keyed by commit and kind: each is stored once. */
export function noticeItems(
  flow: Flow,
  w: ApprovalWait,
  notify: NotifyConfig,
  kind: NoticeKind,
): NewOutboxItem[] {
  const links = linksOf(flow, w);
  const key = `approval-${kind}:${w.repo}#${w.pr}@${w.sha}`;
  const items: NewOutboxItem[] = [];
  if (notify.mention.length > 0) {
    const body = commentText(w, notify.mention, kind, links);
    items.push(commentItem(w.repo, w.installationId, w.pr, body, key));
  }
  if (notify.webhook) {
    items.push({
      kind: WEBHOOK_KIND,
      key: `${WEBHOOK_KIND}:${key}`,
      orderingKey: `${WEBHOOK_KIND}:${w.repo}#${w.pr}`,
      repo: w.repo,
      installationId: w.installationId,
      payload: { pr: w.pr, sha: w.sha, baseSha: w.baseSha, body: webhookBody(w, kind, links) },
    });
  }
  return items;
}

interface WebhookPayload {
  pr: number;
  sha: string;
  baseSha: string;
  body: unknown;
}

/**
 * Posts one notice to the webhook the base definition names, its URL read from the secret set
 * (granted outside any job, then released). Errors name the set and the answer, never the URL.
 */
export async function sendWebhook(
  flow: Flow,
  item: { repo: string; installationId: number; payload: unknown },
): Promise<void> {
  const p = item.payload as WebhookPayload;
  const config = await flow.baseConfig(item.repo, item.installationId, p.baseSha);
  const set = config?.trust.notify?.webhook;
  if (!config || !set) return; // the base no longer asks for it
  const job = { runId: `notice-${item.repo}#${p.pr}`, jobId: "notify" };
  const url = await withSecretSet(
    flow,
    config,
    set,
    job,
    async (g) => g.env[WEBHOOK_KEY] ?? g.files.find((f) => f.name === WEBHOOK_KEY)?.value,
  );
  if (!url) {
    throw new Error(
      `the secret set ${set} has no ${WEBHOOK_KEY}: airlock secrets set ${set} ${WEBHOOK_KEY}`,
    );
  }
  if (!/^https?:\/\//i.test(url)) {
    throw new Error(`${WEBHOOK_KEY} of the secret set ${set} is not an http(s) URL`);
  }
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "airlock" },
      body: JSON.stringify(p.body),
      redirect: "error",
      signal: AbortSignal.timeout(15_000),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
    throw new Error(`the notification webhook of set ${set} could not be reached (${cause})`);
  }
  await res.body?.cancel();
  if (!res.ok) throw new Error(`the notification webhook of set ${set} answered ${res.status}`);
}
