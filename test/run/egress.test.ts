// `airlock run` with a network allow list, end to end: the real CLI, sandbox and proxy, a server
// on a loopback address the job lists (an address rule is the way to open loopback), and the
// connection record in --json and in the closing summary.
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { show } from "../support/cli.js";
import { Project } from "../support/project.js";

const FILE = Buffer.alloc(256 * 1024, 0x61);

describe("airlock run: a job with network.allow", () => {
  let project: Project;
  let server: http.Server;
  let port = 0;
  let hits = 0;

  before(async () => {
    server = http.createServer((_req, res) => {
      hits++;
      res.end(FILE);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.2", r));
    port = (server.address() as AddressInfo).port;
    const pipeline = `version: 1
jobs:
  fetch:
    network:
      allow: ["127.0.0.2:${port}"]
    run: |
      curl -sS --max-time 20 -o got.bin http://127.0.0.2:${port}/file
      echo "got $(wc -c < got.bin) bytes"
      curl -sS --max-time 20 http://127.0.0.3:${port}/ || echo "other address refused"
`;
    project = new Project({ files: { ".airlock.yml": pipeline } });
  });
  after(() => {
    project?.cleanup();
    server?.close();
  });

  test("--json carries the record, the suggested allow list and what was refused", async () => {
    const before = hits;
    const r = await project.cli(["run", "--json"]);
    assert.equal(r.code, 0, show(r));
    assert.equal(hits - before, 1);
    const out = JSON.parse(r.stdout) as {
      jobs: {
        id: string;
        egress: {
          mode: string;
          connections: { host: string; verdict: string; bytesIn: number }[];
          suggestedAllowlist: string[];
          refused: string[];
        } | null;
      }[];
    };
    const e = out.jobs[0]!.egress!;
    assert.equal(e.mode, "enforce");
    assert.deepEqual(e.suggestedAllowlist, [`127.0.0.2:${port}`]);
    assert.deepEqual(e.refused, [`127.0.0.3:${port}`]);
    const allowed = e.connections.find((c) => c.verdict === "allowed")!;
    assert.ok(allowed.bytesIn > FILE.length, `${allowed.bytesIn}`);
  });

  test("the summary says where the job connected and what it was refused", async () => {
    const r = await project.cli(["run"]);
    assert.equal(r.code, 0, show(r));
    assert.match(
      r.stdout,
      new RegExp(
        `egress: fetch connected to: 127\\.0\\.0\\.2:${port} \\(1×, \\d+ bytes out, 25\\d(\\.\\d)? KiB in\\)`,
      ),
    );
    assert.match(r.stdout, new RegExp(`egress: fetch was refused: 127\\.0\\.0\\.3:${port}`));
    assert.match(
      r.stdout,
      new RegExp(`suggested network: \\{ allow: \\["127\\.0\\.0\\.2:${port}"\\] \\}`),
    );
  });
});

describe("airlock run --require-allowlist", () => {
  let project: Project;

  before(async () => {
    const pipeline = `version: 1
secrets:
  cloud: {}
jobs:
  open:
    secrets: [cloud]
    network: true
    run: echo "open ran with a token of \${#CLOUD_TOKEN} characters"
  listed:
    secrets: [cloud]
    network:
      allow: [api.example.test]
    run: echo "listed ran"
  audited:
    secrets: [cloud]
    network:
      audit: true
    run: echo "audited ran"
  sealed:
    secrets: [cloud]
    run: echo "sealed ran"
  public:
    network: true
    run: echo "public ran"
`;
    project = new Project({ files: { ".airlock.yml": pipeline } });
    await project.setSecret("cloud", "CLOUD_TOKEN", "ct_0123456789abcdef");
  });
  after(() => project?.cleanup());

  test("refuses restricted jobs without an enforced list before any secret is released", async () => {
    const r = await project.cli(["run", "--json", "--require-allowlist", "--output"]);
    assert.equal(r.code, 1, show(r));
    const out = JSON.parse(r.stdout) as {
      jobs: {
        id: string;
        result: string;
        error: string | null;
        secrets: Record<string, unknown>;
      }[];
    };
    const job = (id: string) => out.jobs.find((j) => j.id === id)!;
    assert.equal(job("open").result, "error");
    assert.match(
      job("open").error ?? "",
      /jobs\.open holds secrets.*network: \{ allow: \[\.\.\.\] \}/,
    );
    assert.deepEqual(job("open").secrets, {}, "no secret was released to it");
    assert.equal(job("audited").result, "error");
    assert.match(job("audited").error ?? "", /remove `audit: true`/);
    for (const ok of ["listed", "sealed", "public"]) assert.equal(job(ok).result, "passed", ok);
    assert.ok(!r.stderr.includes("open ran") && !r.stdout.includes("open ran"));
    // Without the flag, the same pipeline runs as written.
    const free = await project.cli(["run", "--json", "--job", "open"]);
    assert.equal(free.code, 0, show(free));
  });

  test("a job with an allow list does not run without the sandbox", async () => {
    const r = await project.cli(["run", "--json", "--no-sandbox", "--job", "public"]);
    assert.equal(r.code, 0, show(r));
    const p = new Project({
      files: {
        ".airlock.yml":
          "version: 1\njobs:\n  fetch:\n    network: { allow: [a.test] }\n    run: echo fetched\n",
      },
    });
    try {
      const nosb = await p.cli(["run", "--json", "--no-sandbox"]);
      assert.equal(nosb.code, 1, show(nosb));
      const job = (JSON.parse(nosb.stdout) as { jobs: { result: string; error: string }[] })
        .jobs[0]!;
      assert.equal(job.result, "error");
      assert.match(job.error, /local executor without its sandbox cannot enforce/);
    } finally {
      p.cleanup();
    }
  });
});

describe("airlock run: a tool that ignores the proxy", () => {
  test("fails to connect, and the job ends with a hint about the proxy", async () => {
    const p = new Project({
      files: {
        ".airlock.yml": `version: 1
jobs:
  bypass:
    network: { allow: ["127.0.0.2:9"] }
    run: curl -sS --max-time 20 --noproxy '*' http://127.0.0.2:9/
`,
      },
    });
    try {
      const r = await p.cli(["run", "--json"]);
      assert.equal(r.code, 1, show(r));
      const job = (JSON.parse(r.stdout) as { jobs: { result: string; notes: string[] }[] })
        .jobs[0]!;
      assert.equal(job.result, "failed");
      assert.ok(
        job.notes.some((n) => /only through its egress proxy/.test(n)),
        JSON.stringify(job.notes),
      );
    } finally {
      p.cleanup();
    }
  });
});
