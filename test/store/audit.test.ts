// The audit log's keyset pages and filters on every engine: every entry is reached exactly once
// whichever way a reader pages, pages stay put while entries are added, and (on SQLite, where the
// plan is checked) the cursor query walks an index instead of sorting the table.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import SQLite from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import {
  AuditQueryError,
  parseAuditCursor,
  parseAuditQuery,
  parseAuditTime,
} from "../../src/store/audit-query.js";
import { KyselyStore } from "../../src/store/kysely/store.js";
import type { Database } from "../../src/store/schema.js";
import type { AuditEntry, AuditRecord, AuditRepo } from "../../src/store/types.js";
import { engines, type OpenedTestStore } from "../support/engines.js";

const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);
const MIN = 60_000;

/** 300 entries, one a minute from T0, cycling through actors, kinds, runs and sets. */
function entry(i: number): AuditEntry {
  const actions = ["release", "reveal", "console-approve", "approve", "rotate", "sign-in"];
  return {
    action: actions[i % actions.length] as string,
    actor: ["airlock", "alice", "bob", "token:ops"][i % 4] as string,
    runId: i % 3 === 0 ? `run-${i % 9}` : null,
    jobId: i % 3 === 0 ? "functional" : null,
    set: i % 2 === 0 ? (["functional-tests", "dns"][i % 4 === 0 ? 0 : 1] as string) : null,
    versions: i % 2 === 0 ? { AWS_SECRET_ACCESS_KEY: i } : undefined,
    detail: `entry ${i}`,
    at: T0 + i * MIN,
  };
}

async function walkOlder(
  log: AuditRepo,
  q: Parameters<AuditRepo["page"]>[0],
  limit: number,
): Promise<AuditRecord[][]> {
  const pages: AuditRecord[][] = [];
  let before: number | undefined;
  for (let guard = 0; guard < 1000; guard++) {
    const p = await log.page(q, { limit, ...(before !== undefined ? { before } : {}) });
    pages.push(p.items);
    if (p.olderBefore === null) return pages;
    assert.equal(p.olderBefore, p.items.at(-1)?.seq, "the older cursor is the last entry shown");
    before = p.olderBefore;
  }
  throw new Error("paging did not end");
}

const seqs = (rs: AuditRecord[]) => rs.map((r) => r.seq);

for (const engine of await engines())
  describe(`audit log pages on ${engine.name}`, () => {
    let t: OpenedTestStore;
    let log: AuditRepo;

    before(async () => {
      t = await engine.open();
      log = t.store.audit;
      for (let i = 0; i < 300; i++) await log.record(entry(i));
    });
    after(() => t.close());

    it("walking older pages reaches every entry once, newest first", async () => {
      const all = await log.list();
      assert.equal(all.length, 300);
      const pages = await walkOlder(log, {}, 7);
      assert.equal(pages.length, Math.ceil(300 / 7));
      const flat = pages.flat();
      assert.deepEqual(seqs(flat), seqs(all).reverse());
      assert.ok(pages.slice(0, -1).every((p) => p.length === 7));
      assert.equal(pages.at(-1)?.length, 300 % 7);
    });

    it("walking newer pages from the oldest gives the same pages back", async () => {
      const older = await walkOlder(log, {}, 25);
      const last = older.at(-1) as AuditRecord[];
      const back: AuditRecord[][] = [last];
      let p = await log.page({}, { limit: 25, before: (last[0]?.seq ?? 0) + 1 });
      assert.deepEqual(seqs(p.items), seqs(last));
      while (p.newerAfter !== null) {
        p = await log.page({}, { limit: 25, after: p.newerAfter });
        back.push(p.items);
      }
      assert.deepEqual(back.reverse().map(seqs), older.map(seqs));
      assert.equal(p.newerAfter, null, "the newest page has no newer link");
    });

    it("pages stay the same while entries are added, and the new ones appear as newer", async () => {
      const t2 = await engine.open();
      try {
        const l = t2.store.audit;
        for (let i = 0; i < 50; i++) await l.record(entry(i));
        const first = await l.page({}, { limit: 10 });
        const seen = [...first.items];
        let before = first.olderBefore;
        let added = 0;
        while (before !== null) {
          // Another job is released a secret between every two page views.
          for (let k = 0; k < 3; k++) await l.record(entry(1000 + added++));
          const p = await l.page({}, { limit: 10, before });
          seen.push(...p.items);
          before = p.olderBefore;
        }
        const original = (await l.list()).slice(0, 50);
        assert.deepEqual(seqs(seen), seqs(original).reverse(), "no entry skipped or repeated");
        // From the page first shown, "newer" now leads to exactly the entries added meanwhile.
        const newer: AuditRecord[] = [];
        let after = first.items[0]?.seq ?? null;
        assert.ok(after !== null);
        while (after !== null) {
          const p = await l.page({}, { limit: 4, after });
          newer.push(...p.items);
          after = p.newerAfter;
        }
        assert.equal(newer.length, added);
        assert.ok(newer.every((r) => /^entry 1\d{3}$/.test(r.detail ?? "")));
        assert.equal(new Set(seqs(newer)).size, added);
      } finally {
        await t2.close();
      }
    });

    it("an empty page past either end still links back to the entries", async () => {
      const newest = (await log.page({}, { limit: 1 })).items[0]?.seq as number;
      const beyond = await log.page({}, { limit: 10, after: newest });
      assert.deepEqual(beyond.items, []);
      assert.equal(beyond.newerAfter, null);
      assert.equal(beyond.olderBefore, newest + 1);
      const oldest = await log.page({}, { limit: 10, before: 1 });
      assert.deepEqual(oldest.items, []);
      assert.equal(oldest.olderBefore, null);
      assert.equal(oldest.newerAfter, 0);
      const fromStart = await log.page({}, { limit: 3, after: 0 });
      assert.deepEqual(seqs(fromStart.items), [3, 2, 1]);
    });

    it("filters by kind, group of kinds, run, set and actor, and pages within a filter", async () => {
      const all = (await log.list()).reverse();
      const cases: [Parameters<AuditRepo["page"]>[0], (r: AuditRecord) => boolean][] = [
        [{ kind: "release" }, (r) => r.action === "release"],
        [{ kind: "approvals" }, (r) => r.action === "approve" || r.action === "console-approve"],
        [{ kind: "console" }, (r) => r.action.startsWith("console-")],
        [{ kind: "secret-changes" }, (r) => r.action === "rotate"],
        [{ run: "run-3" }, (r) => r.runId === "run-3"],
        [{ set: "dns" }, (r) => r.set === "dns"],
        [{ actor: "token:ops" }, (r) => r.actor === "token:ops"],
        [
          { kind: "release", set: "functional-tests", actor: "airlock" },
          (r) => r.action === "release" && r.set === "functional-tests" && r.actor === "airlock",
        ],
        [{ kind: "nothing-like-this" }, () => false],
      ];
      for (const [q, match] of cases) {
        const want = all.filter(match);
        const got = (await walkOlder(log, q, 4)).flat();
        assert.deepEqual(seqs(got), seqs(want), JSON.stringify(q));
        if (JSON.stringify(q) !== '{"kind":"nothing-like-this"}') {
          assert.ok(want.length > 0 && want.length < all.length, `${JSON.stringify(q)} narrows`);
        }
      }
    });

    it("a time range keeps entries at or after `since` and before `until`", async () => {
      const q = parseAuditQuery({ since: "2024-05-01 13:00", until: "2024-05-01T13:09" });
      assert.equal(q.since, T0 + 60 * MIN);
      assert.equal(q.until, T0 + 70 * MIN, "until includes the minute it names");
      const got = (await walkOlder(log, q, 3)).flat();
      assert.deepEqual(
        got.map((r) => r.detail),
        Array.from({ length: 10 }, (_, k) => `entry ${69 - k}`),
      );
      const day = (await walkOlder(log, parseAuditQuery({ until: "2024-04-30" }), 50)).flat();
      assert.deepEqual(day, [], "nothing before the first entry's day");
    });

    it("scan yields every match newest first, across batches", async () => {
      const got: AuditRecord[] = [];
      for await (const r of log.scan({ kind: "reveal" }, {}, 7)) got.push(r);
      const want = (await log.list({ action: "reveal" })).reverse();
      assert.equal(want.length, 50);
      assert.deepEqual(seqs(got), seqs(want));
      const from: AuditRecord[] = [];
      for await (const r of log.scan({}, { before: 11 }, 4)) from.push(r);
      assert.deepEqual(seqs(from), [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    });

    // The plan is SQLite's to show; PostgreSQL plans by table statistics.
    if (engine.name === "sqlite")
      it("the cursor query walks the primary key or the run/set index, never a sort", async () => {
        const plans: string[] = [];
        const raw = new SQLite(path.join(t.dataDir, "airlock.db"));
        const db = new Kysely<Database>({
          dialect: new SqliteDialect({ database: raw }),
          log: (e) => {
            const q = e.query;
            if (/from "audit"/.test(q.sql) && !q.sql.startsWith("EXPLAIN")) {
              const plan = raw.prepare(`EXPLAIN QUERY PLAN ${q.sql}`).all(...q.parameters) as {
                detail: string;
              }[];
              plans.push(plan.map((p) => p.detail).join(" | "));
            }
          },
        });
        const spied = new KyselyStore(
          db,
          "sqlite",
          { settled: new Set(), lease: { holder: "test", ttlMs: 30_000 } },
          {
            purgeDeleted: async () => {},
          },
        ).audit;
        try {
          await spied.page({}, { limit: 10 });
          await spied.page({}, { limit: 10, before: 100 });
          await spied.page({}, { limit: 10, after: 100 });
          await spied.page({ run: "run-3" }, { limit: 10, before: 100 });
          await spied.page({ set: "dns" }, { limit: 10, after: 10 });
          await spied.page({ actor: "bob", kind: "approvals" }, { limit: 10, before: 200 });
        } finally {
          await db.destroy();
        }
        assert.ok(plans.length >= 12, `${plans.length} queries seen`);
        for (const p of plans) {
          assert.doesNotMatch(p, /TEMP B-TREE/, p);
          // "SCAN audit" alone is the rowid table read in seq order.
          assert.match(p, /^SCAN audit$|INTEGER PRIMARY KEY|INDEX audit_run|INDEX audit_set/, p);
        }
        assert.ok(plans.some((p) => /audit_run/.test(p)));
        assert.ok(plans.some((p) => /audit_set/.test(p)));
      });
  });

describe("audit filter text", () => {
  it("reads dates and times as UTC, to their own precision", () => {
    assert.equal(parseAuditTime("2024-05-01", "start"), Date.UTC(2024, 4, 1));
    assert.equal(parseAuditTime("2024-05-01", "end"), Date.UTC(2024, 4, 2));
    assert.equal(parseAuditTime("2024-05-01T13:45Z", "end"), Date.UTC(2024, 4, 1, 13, 46));
    assert.equal(parseAuditTime("2024-05-01 13:45:12", "end"), Date.UTC(2024, 4, 1, 13, 45, 13));
    assert.equal(parseAuditTime("2024-12-31", "end"), Date.UTC(2025, 0, 1));
    for (const bad of [
      "2024-02-30",
      "2024-13-01",
      "2024-05-01 24:00",
      "2024-05-01T12:60",
      "yesterday",
      "1714564800000",
      "2024-5-1",
    ]) {
      assert.equal(parseAuditTime(bad, "start"), undefined, bad);
    }
  });

  it("refuses bad filters with the parameter's name first", () => {
    const refuses = (input: Parameters<typeof parseAuditQuery>[0], param: string, re: RegExp) =>
      assert.throws(
        () => parseAuditQuery(input),
        (e: unknown) => e instanceof AuditQueryError && e.param === param && re.test(e.message),
      );
    refuses({ since: "last week" }, "since", /^since: "last week" is not a UTC date/);
    refuses({ until: "2024-02-30" }, "until", /not a UTC date/);
    refuses({ since: "2024-05-02", until: "2024-05-01" }, "until", /must come after since/);
    refuses({ kind: "Release!" }, "kind", /not a kind of entry.*approvals/);
    refuses({ actor: "x".repeat(201) }, "actor", /at most 200/);
    refuses({ run: "a\nb" }, "run", /control characters/);
    assert.throws(
      () => parseAuditQuery({ since: "nope" }, { since: "--since" }),
      /Error: --since: "nope" is not a UTC date/,
    );
    assert.deepEqual(parseAuditQuery({ kind: "console-cancel", actor: "alice" }), {
      kind: "console-cancel",
      actor: "alice",
    });
    assert.equal(parseAuditCursor("before", "42"), 42);
    assert.throws(
      () => parseAuditCursor("before", "-1"),
      /Error: before: "-1" is not an entry number/,
    );
    assert.throws(() => parseAuditCursor("after", "1e3"), /after: "1e3" is not an entry number/);
  });
});
