// Notices of commits waiting for an approval, through the real HTTP server, the GitHub double and
// a real webhook receiver on loopback: each waiting commit is announced once (however many events
// arrive for it), by a comment mentioning the team and a JSON post; a reminder goes out once, only
// for a commit that still waits; a failing webhook is retried until it takes the post. Nothing
// sent holds a line of any job's log, the PR's title, or a secret (the webhook URL is one).
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import {
  CLOUD_TOKEN,
  commentPayload,
  PUBLIC_URL,
  prPayload,
  REPO,
  TRUSTED,
  UNTRUSTED,
  World,
} from "./harness.js";

const PIPELINE = `version: 1
secrets:
  cloud: {}
  chat: {}
trust:
  orgs: [acme]
  rules:
    - name: deploy scripts
      paths: [scripts/]
      approvals: 2
  notify:
    mention: [acme/maintainers, carol]
    webhook: chat
    remind_after: 1h
jobs:
  unit:
    run: |
      echo "unit ok LOG-LINE-7731"
      echo "CLOUD_TOKEN=\${CLOUD_TOKEN:-unset}"
  functional:
    needs: [unit]
    secrets: [cloud]
    run: echo "token is $CLOUD_TOKEN FUNCTIONAL-LOG-4410"
`;

const TITLE = "TITLE-TEXT-5519 <!channel> @everyone";

interface Post {
  body: Record<string, unknown>;
  raw: string;
}

let w: World;
let receiver: Server;
const posts: Post[] = [];
/** The receiver answers 500 this many more times. */
let failures = 0;

before(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      if (failures > 0) {
        failures--;
        res.writeHead(500).end("try later");
        return;
      }
      posts.push({ raw, body: JSON.parse(raw) as Record<string, unknown> });
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  // The path is the secret part of a chat webhook's URL.
  const port = (receiver.address() as AddressInfo).port;
  const hookUrl = `http://127.0.0.1:${port}/hooks/T0-secret-path-88`;
  w = await World.create(PIPELINE, { secrets: { chat: { WEBHOOK_URL: hookUrl } } });
});

after(async () => {
  w?.gh.assertNoViolations();
  await w?.close();
  receiver?.closeAllConnections();
  await new Promise((r) => receiver?.close(r));
});

const notices = (n: number) =>
  w.gh.comments(REPO, n).filter((c) => c.body.includes("@acme/maintainers"));
const postsFor = (sha: string, event?: string) =>
  posts.filter((p) => p.body.sha === sha && (!event || p.body.event === event));
/** Delivers an event; a delivery id sent before is answered as a duplicate. */
async function deliver(event: string, payload: unknown, id?: string) {
  const { status } = await w.send(event, payload, id ? { id } : {});
  assert.ok(status === 202 || status === 200, `status ${status}`);
}

/** Every line any job printed on the commit (4 characters or more). */
async function logLines(sha: string): Promise<string[]> {
  const lines: string[] = [];
  for (const j of await w.jobsOf(sha)) {
    for (const l of (await w.logs(j.run_id, j.job_id)).split("\n")) {
      if (l.trim().length >= 4) lines.push(l.trim());
    }
  }
  return lines;
}

/** Nothing sent holds a log line, the title, a secret value or the webhook URL. */
function assertClean(sent: string[], lines: string[]) {
  for (const text of sent) {
    for (const l of lines) assert.ok(!text.includes(l), `a notice holds the log line ${l}`);
    assert.ok(!text.includes(CLOUD_TOKEN));
    assert.ok(!text.includes("TITLE-TEXT-5519"), "the PR's title is not sent");
    assert.ok(!text.includes("T0-secret-path-88"), "the webhook URL is a secret");
  }
}

test("a waiting commit is announced once, by comment and webhook, with no log line or secret", async () => {
  const pr = w.openPr({
    author: UNTRUSTED,
    title: TITLE,
    files: { "scripts/deploy.sh": "echo deploy\n" },
  });
  const opened = prPayload("opened", pr, { baseSha: w.baseSha });
  await deliver("pull_request", opened, "opened-1");
  await w.settle();
  // More events for the same commit: a redelivery, another delivery of the same event, a reopen,
  // an untrusted command, and an approval that is not enough (the rule wants two).
  await deliver("pull_request", opened, "opened-1");
  await deliver("pull_request", opened);
  await deliver("pull_request", prPayload("reopened", pr, { baseSha: w.baseSha }));
  await deliver("issue_comment", commentPayload(pr.number, "/ok-to-test", UNTRUSTED));
  await deliver("issue_comment", commentPayload(pr.number, "/ok-to-test", TRUSTED));
  await w.settle();

  assert.equal(postsFor(pr.headSha).length, 1, "one post for the waiting commit");
  assert.equal(notices(pr.number).length, 1, "one comment for the waiting commit");
  const post = postsFor(pr.headSha)[0]!.body;
  assert.equal(post.event, "approval.waiting");
  assert.deepEqual([post.repository, post.pull_request, post.author], [REPO, pr.number, UNTRUSTED]);
  assert.deepEqual(post.changed_paths, ["scripts/deploy.sh"]);
  assert.equal(post.inbox_url, `${PUBLIC_URL}/approvals`);
  assert.match(
    String(post.text),
    new RegExp(`^acme/app#${pr.number}: commit ${pr.headSha.slice(0, 12)} by mallory waits`),
  );
  assert.match(
    String(post.text),
    /approvals from distinct trusted members for rule `deploy scripts`/,
  );
  const comment = notices(pr.number)[0]!.body;
  assert.match(
    comment,
    /^@acme\/maintainers @carol: commit [0-9a-f]{12} by ` mallory ` waits for an approval\./,
  );
  assert.match(
    comment,
    /- It needs 2 approvals from distinct trusted members for rule ` deploy scripts `\./,
  );
  assert.match(comment, new RegExp(`/ok-to-test ${pr.headSha}`));

  const lines = await logLines(pr.headSha);
  assert.ok(
    lines.some((l) => l.includes("LOG-LINE-7731")),
    "the job's log has the line",
  );
  assertClean([JSON.stringify(postsFor(pr.headSha)), comment], lines);
  assert.ok(!JSON.stringify(w.gh.comments(REPO)).includes("T0-secret-path-88"));

  // A push is a new commit: it is announced once in turn.
  const older = pr.headSha;
  w.push(pr, { "scripts/deploy.sh": "echo deploy v2\n" });
  const sync = prPayload("synchronize", pr, { baseSha: w.baseSha });
  await deliver("pull_request", sync);
  await deliver("pull_request", sync);
  await w.settle();
  assert.equal(postsFor(pr.headSha).length, 1);
  assert.equal(postsFor(older).length, 1);
  assert.equal(notices(pr.number).length, 2);

  // Reminders: once, for the commit that still waits; never for the superseded one.
  const later = Date.now() + 2 * 3600_000;
  assert.equal(await w.server.wired.flow.sendReminders(Date.now()), 0, "not due yet");
  assert.equal(await w.server.wired.flow.sendReminders(later), 1);
  assert.equal(await w.server.wired.flow.sendReminders(later), 0, "a reminder goes out once");
  await w.settle();
  assert.equal(postsFor(pr.headSha, "approval.reminder").length, 1);
  assert.equal(postsFor(older, "approval.reminder").length, 0);
  const reminder = notices(pr.number).at(-1)!.body;
  assert.match(reminder, /still waits for an approval \(since /);
  assertClean([JSON.stringify(posts), ...notices(pr.number).map((c) => c.body)], lines);
});

test("an approved commit gets no reminder; a failing webhook is retried until it takes the post", async () => {
  failures = 2;
  const pr = w.openPr({ author: UNTRUSTED, title: TITLE });
  await deliver("pull_request", prPayload("opened", pr, { baseSha: w.baseSha }));
  await w.settle();
  assert.equal(failures, 0, "the post was refused twice");
  assert.equal(postsFor(pr.headSha).length, 1, "and then delivered once");
  const items = await w.server.db.outbox.list();
  const item = items.find((i) => i.kind === "approval_webhook" && i.key.includes(pr.headSha))!;
  assert.deepEqual([item.state, item.attempts], ["done", 3]);
  // The outbox's record of the failures names the answer, never the URL.
  assert.ok(!JSON.stringify(items).includes("T0-secret-path-88"));

  await deliver("issue_comment", commentPayload(pr.number, "/ok-to-test", TRUSTED));
  await w.settle();
  assert.ok((await w.jobsOf(pr.headSha)).some((j) => j.job_id === "functional"));
  assert.equal((await w.server.db.waits.get(REPO, pr.number, pr.headSha))?.state, "approved");
  assert.equal(await w.server.wired.flow.sendReminders(Date.now() + 2 * 3600_000), 0);
  await w.settle();
  assert.equal(postsFor(pr.headSha, "approval.reminder").length, 0);
  assertClean([JSON.stringify(posts)], await logLines(pr.headSha));
});

test("a trusted author's commit and a draft announce nothing; a closed PR is reminded of no more", async () => {
  const before = posts.length;
  const mine = w.openPr({ author: TRUSTED });
  await deliver("pull_request", prPayload("opened", mine, { baseSha: w.baseSha }));
  const draft = w.openPr({ author: UNTRUSTED, draft: true });
  await deliver("pull_request", prPayload("opened", draft, { baseSha: w.baseSha }));
  await w.settle();
  assert.equal(posts.length, before);
  assert.equal(notices(mine.number).length + notices(draft.number).length, 0);

  const closing = w.openPr({ author: UNTRUSTED });
  await deliver("pull_request", prPayload("opened", closing, { baseSha: w.baseSha }));
  await w.settle();
  assert.equal(postsFor(closing.headSha).length, 1);
  await deliver(
    "pull_request",
    prPayload("closed", closing, { baseSha: w.baseSha, state: "closed" }),
  );
  await w.settle();
  assert.equal(
    (await w.server.db.waits.get(REPO, closing.number, closing.headSha))?.state,
    "closed",
  );
  assert.equal(await w.server.wired.flow.sendReminders(Date.now() + 2 * 3600_000), 0);
});
