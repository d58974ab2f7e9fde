// The App's webhook deliveries: which ones `airlock app redeliver` sends again, and the listing's
// pages followed through the cursor of GitHub's Link header, against the GitHub double (its
// requests checked against GitHub's REST description).
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { AppAuth } from "../../src/forge/github/app-auth.js";
import {
  AppDeliveries,
  type HookDelivery,
  nextCursor,
  toRedeliver,
} from "../../src/forge/github/deliveries.js";
import { GitHubHttp } from "../../src/forge/github/http.js";
import { startGitHubDouble } from "../doubles/github.js";

let id = 0;
const attempt = (guid: string, status: number, at: string, o: Partial<HookDelivery> = {}) => ({
  id: ++id,
  guid,
  delivered_at: at,
  redelivery: false,
  status: status === 503 ? "Service Unavailable" : "OK",
  status_code: status,
  event: "pull_request",
  action: "opened",
  ...o,
});

test("what is sent again: events whose attempts all failed, the newest for a reason that passes", () => {
  const list = [
    attempt("refused", 503, "2026-01-01T10:00:00Z"),
    attempt("refused-then-ok", 503, "2026-01-01T10:00:01Z"),
    attempt("refused-then-ok", 202, "2026-01-01T10:05:00Z", { redelivery: true }),
    attempt("no-answer", 0, "2026-01-01T10:00:02Z"),
    attempt("forged", 401, "2026-01-01T10:00:03Z"),
    attempt("twice", 503, "2026-01-01T10:00:04Z"),
    attempt("twice", 502, "2026-01-01T10:06:00Z", { redelivery: true }),
    attempt("duplicate", 200, "2026-01-01T10:00:05Z"),
  ];
  const chosen = toRedeliver(list);
  assert.deepEqual(
    chosen.map((d) => d.guid),
    ["refused", "no-answer", "twice"],
    "oldest first; a success or a 4xx is never sent again",
  );
  // The newest attempt of an event is the one named.
  assert.equal(chosen[2]!.id, list[6]!.id);
  // Named events are sent again whatever their failure; one that went through is not.
  assert.deepEqual(
    toRedeliver(list, new Set(["forged", "refused-then-ok", "nowhere"])).map((d) => d.guid),
    ["forged"],
  );
});

test("the next page's cursor comes from the Link header, never its address", () => {
  assert.equal(
    nextCursor(
      '<https://api.github.com/app/hook/deliveries?per_page=100&cursor=v1_42>; rel="next", <https://api.github.com/app/hook/deliveries?per_page=100>; rel="first"',
    ),
    "v1_42",
  );
  assert.equal(nextCursor('<https://api.github.com/x?cursor=v1_1>; rel="prev"'), undefined);
  assert.equal(nextCursor(null), undefined);
  assert.equal(nextCursor('<not a url>; rel="next"'), undefined);
});

test("every page of deliveries is read, newest first", async () => {
  const gh = await startGitHubDouble();
  // A webhook that always answers 503.
  const hook = createServer((_req, res) => {
    res.writeHead(503).end();
  });
  await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
  try {
    gh.setWebhook(`http://127.0.0.1:${(hook.address() as AddressInfo).port}/`, "s");
    const sent: string[] = [];
    for (let i = 0; i < 130; i++) {
      sent.push((await gh.deliverWebhook("ping", { zen: `z${i}`, hook_id: 1 })).guid);
    }
    const http = new GitHubHttp({ baseUrl: gh.url });
    const deliveries = new AppDeliveries(http, new AppAuth(http, gh.appId, gh.privateKey!));
    const all = await deliveries.since(Date.now() - 3600_000);
    assert.deepEqual(
      all.map((d) => d.guid),
      [...sent].reverse(),
    );
    assert.equal(
      gh.requests.filter((r) => r.operationId === "apps/list-webhook-deliveries").length,
      2,
    );
    // Asking for one again makes GitHub send it once more, under the same guid.
    await deliveries.redeliver(all.at(-1)!.id);
    await gh.redelivered();
    const again = gh.deliveries().filter((d) => d.redelivery);
    assert.deepEqual(
      again.map((d) => d.guid),
      [sent[0]],
    );
    // An attempt GitHub does not have is refused.
    await assert.rejects(deliveries.redeliver(999_999_999), /Not Found/);
    gh.assertNoViolations();
  } finally {
    hook.close();
    await gh.close();
  }
});
