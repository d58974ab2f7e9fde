// A run whose jobs printed secrets, in many encodings, through the real redactor into the real
// stores: no console page, API answer, download or live stream carries any of the values in any
// encoding. And the console's code can reach only the redacted stores.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { after, before, describe, it } from "node:test";
import { createRedactor } from "../../src/redact/redactor.js";
import { secretsInventory } from "../../src/web/console/inventory.js";
import { type Console, type Env, makeEnv, signInByLink, startConsole } from "./helpers.js";

const SECRETS = [
  { name: "AWS_SECRET_ACCESS_KEY", value: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" },
  { name: "DB_PASSWORD", value: `p@ss&w<o>rd"quote'-1234` },
  { name: "API_TOKEN", value: "tok_live_9f8e7d6c5b4a3f2e1d0c" },
];

/** Every form a leaked value could take in a page, a JSON answer or a stream. */
function forms(value: string): string[] {
  const b = Buffer.from(value, "utf8");
  const b64 = b.toString("base64");
  const url = encodeURIComponent(value);
  return [
    value,
    b64,
    b64.replace(/=+$/, ""),
    b64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""),
    b.toString("hex"),
    b.toString("hex").toUpperCase(),
    url,
    url.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    JSON.stringify(value).slice(1, -1),
    value
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      .replace(/'/g, "&#39;"),
  ];
}

const NEEDLES = SECRETS.flatMap((s) => forms(s.value).map((f) => ({ name: s.name, form: f })));

function assertClean(where: string, text: string): void {
  for (const n of NEEDLES) {
    assert.ok(
      !text.includes(n.form),
      `${where} contains ${n.name} (as ${JSON.stringify(n.form.slice(0, 8))}…)`,
    );
  }
}

/** What a careless job prints: each secret raw and encoded, with colours and groups around. */
function jobOutput(): string {
  const lines: string[] = ["::group::setup"];
  for (const s of SECRETS) {
    const b = Buffer.from(s.value);
    lines.push(
      `export ${s.name}=${s.value}`,
      `\x1b[31m${s.name} base64: ${b.toString("base64")}\x1b[0m`,
      `hex=${b.toString("hex")}`,
      `curl https://api.example/?key=${encodeURIComponent(s.value)}`,
      `{"secret":${JSON.stringify(s.value)}}`,
    );
  }
  lines.push("::endgroup::", "done");
  return `${lines.join("\n")}\n`;
}

async function writeRedacted(env: Env, run: string, job: string, text: string): Promise<void> {
  const redactor = createRedactor({ secrets: SECRETS });
  await pipeline(Readable.from([text]), redactor.stream(), env.logs.writer(run, job));
}

describe("no secret reaches the console", () => {
  let env: Env;
  let c: Console;
  let cookie: string;
  const redactor = createRedactor({ secrets: SECRETS });

  before(async () => {
    env = await makeEnv();
    await env.runs.create(
      {
        id: "leaky",
        source: "github",
        repo: "acme/app",
        ref: "main",
        sha: "d".repeat(40),
        pr: 7,
        notes: {
          "grants:functional": [
            redactor.redact(`API_TOKEN taken from the environment (${SECRETS[2]?.value})`),
          ],
        },
      },
      [
        {
          jobId: "functional",
          template: "functional",
          needs: [],
          secrets: ["functional-tests"],
          state: "running",
          reason: "authorized",
        },
        {
          jobId: "unit",
          template: "unit",
          needs: [],
          secrets: [],
          state: "running",
          reason: "public job",
        },
      ],
    );
    for (const job of ["functional", "unit"]) {
      await writeRedacted(env, "leaky", job, jobOutput());
      await env.runs.updateJob("leaky", job, {
        state: "failed",
        startedAt: Date.now() - 5000,
        finishedAt: Date.now(),
        exitCode: 1,
        error: redactor.redact(`executor: container exited; last env ${SECRETS[0]?.value}`),
        grants: { "functional-tests": { AWS_SECRET_ACCESS_KEY: 2, DB_PASSWORD: 1 } },
        tests: SECRETS.map((s) => ({
          suite: "leak",
          name: `connects with ${s.name}`,
          status: "failed" as const,
          durationMs: 10,
          message: redactor.redact(
            `auth failed for ${s.value} (${Buffer.from(s.value).toString("base64")})`,
          ),
        })),
      });
    }
    await env.audit.record({
      action: "release",
      actor: "airlock",
      runId: "leaky",
      jobId: "functional",
      set: "functional-tests",
      versions: { AWS_SECRET_ACCESS_KEY: 2 },
    });
    c = await startConsole(env, {
      console: {
        publicSummary: () => ({ enabled: true, failureMessages: "all" }),
        secrets: secretsInventory({
          sets: { "functional-tests": { backend: "embedded" } },
          jobs: { functional: { secrets: ["functional-tests"] } },
          list: async () =>
            SECRETS.map((s) => ({
              key: s.name,
              version: 2,
              versions: [1, 2],
              updatedAt: Date.now(),
              rotatedAt: null,
              file: false,
            })),
        }),
      },
    });
    cookie = await signInByLink(c, env);
  });
  after(async () => {
    await c.close();
    await env.cleanup();
  });

  it("the stored log holds markers where the secrets were", async () => {
    const log = await env.logs.read("leaky", "functional");
    assert.match(log, /\[redacted:AWS_SECRET_ACCESS_KEY\]/);
    assertClean("the stored log", log);
    // The check itself catches each form (so a clean result above means something).
    for (const n of NEEDLES) assert.throws(() => assertClean("probe", `x${n.form}y`));
  });

  it("every page, API answer, download and stream of the run is clean", async () => {
    const urls = [
      "/runs",
      "/runs?job=functional",
      "/api/runs",
      "/runs/leaky",
      "/api/runs/leaky",
      "/audit",
      "/audit?kind=release&run=leaky&set=functional-tests",
      "/api/audit",
      "/audit.csv",
      "/audit.jsonl",
      "/secrets",
      "/public/runs/leaky",
      "/api/public/runs/leaky",
    ];
    for (const job of ["functional", "unit"]) {
      const base = `/runs/leaky/jobs/${job}`;
      urls.push(
        base,
        `${base}?from=2`,
        `${base}?q=redacted`,
        `${base}?q=base64`,
        `/api${base}/log`,
        `/api${base}/log/search?q=redacted`,
        `${base}/log.txt`,
        `${base}/log/stream`,
      );
    }
    let checked = 0;
    for (const u of urls) {
      const res = await fetch(`${c.url}${u}`, { headers: { cookie } });
      assert.equal(res.status, 200, u);
      const text = await res.text();
      assert.ok(text.length > 0, u);
      assertClean(u, text);
      checked++;
    }
    assert.equal(checked, urls.length);
    // The pages do show the run: the check above ran on real content.
    const page = await (
      await fetch(`${c.url}/runs/leaky/jobs/functional`, { headers: { cookie } })
    ).text();
    assert.match(page, /\[redacted:AWS_SECRET_ACCESS_KEY\]/);
  });

  it("a live stream of a job printing secrets carries only redacted lines", async () => {
    await env.runs.create(
      { id: "leaky-live", source: "local", repo: "r", ref: null, sha: "e".repeat(40) },
      [{ jobId: "j", template: "j", needs: [], secrets: ["s"], state: "running", reason: "" }],
    );
    const res = await fetch(`${c.url}/runs/leaky-live/jobs/j/log/stream`, { headers: { cookie } });
    const text = res.text();
    // The job prints while the stream is open, in small writes that split the values.
    const r = createRedactor({ secrets: SECRETS, flushMs: 20 });
    const s = r.stream();
    const done = pipeline(s, env.logs.writer("leaky-live", "j"));
    const out = jobOutput();
    for (let i = 0; i < out.length; i += 7) {
      s.write(out.slice(i, i + 7));
      if (i % 140 === 0) await new Promise((res) => setTimeout(res, 5));
    }
    s.end();
    await done;
    await env.runs.updateJob("leaky-live", "j", { state: "failed", finishedAt: Date.now() });
    const body = await text;
    assert.match(body, /event: end/);
    assert.match(body, /redacted:DB_PASSWORD/);
    assertClean("the live stream", body);
  });
});

describe("the console reads only redacted stores", () => {
  it("imports no secret backend and reads no environment", () => {
    const dirs = ["src/web/console", "src/web/auth"];
    const allowed = [
      /^\.\.?\//, // its own modules and the auth/console siblings
      // index: the Store interface (runs, sessions, the audit log; secret rows only sealed) and
      // its record helpers; audit-query: the audit log's filter text and kinds, no database access.
      // log-times: when each (redacted) log line was written, nothing of its text.
      /^\.\.\/\.\.\/store\/(index|logs|log-text|log-times|schema|audit-query)\.js$/,
      /^node:(fs|fs\/promises|crypto|stream)$/,
      /^fastify$/,
      /^@fastify\/formbody$/,
    ];
    for (const dir of dirs) {
      for (const f of readdirSync(dir).filter((n) => n.endsWith(".ts"))) {
        const src = readFileSync(path.join(dir, f), "utf8");
        assert.ok(!/process\.env/.test(src), `${dir}/${f} reads the environment`);
        for (const m of src.matchAll(/^import\s+(type\s+)?[^;]*?from\s+"([^"]+)";/gms)) {
          const spec = m[2] as string;
          const typeOnly = Boolean(m[1]);
          if (spec === "../../secrets/types.js" && typeOnly) continue;
          if (/^\.\.\/\.\.\//.test(spec)) {
            assert.ok(
              allowed[1]?.test(spec) ||
                // Words for a job's end from its stored row: no store, no secret.
                spec === "../../pipeline/end-reason.js" ||
                // Byte sizes, and a job's stored (redacted) connection record: pure functions.
                spec === "../../config/size.js" ||
                spec === "../../egress/record.js" ||
                // What jobs kept: text passed their redactor, and no job holding secrets keeps a binary.
                spec === "../../artifacts/store.js",
              `${dir}/${f} imports ${spec}`,
            );
          } else {
            assert.ok(
              allowed.some((a) => a.test(spec)),
              `${dir}/${f} imports ${spec}`,
            );
          }
        }
      }
    }
  });
});
