// Egress allowlists in the real sandbox, on loopback only: servers listen on 127.0.0.x, get names
// through the sandbox's hosts file, and 127.0.0.64/26 stands in for the forbidden ranges (cloud
// metadata, private networks), so no packet ever goes anywhere but loopback.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import type { ConnectionEntry, EgressRecord } from "../../../src/egress/record.js";
import { LocalExecutor } from "../../../src/executors/local/executor.js";
import { job, makeRepo, request, tempDir } from "./helpers.js";

const t = tempDir();
let repo: string;
let sha: string;
let executor: LocalExecutor;

/** A server that answers with its name and counts the connections it accepted. */
interface Named {
  name: string;
  port: number;
  connections: number;
  server: http.Server;
}

async function serve(name: string, address: string, port = 0): Promise<Named> {
  const server = http.createServer((req, res) => {
    res.end(`hello from ${name} (${req.headers.host} ${req.url})\n`);
  });
  const s: Named = { name, port: 0, connections: 0, server };
  server.on("connection", () => s.connections++);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, address, resolve);
  });
  s.port = (server.address() as AddressInfo).port;
  return s;
}

let a: Named;
let b: Named;
let forbidden: Named;

before(async () => {
  ({ repo, sha } = makeRepo(t.dir, { "README.md": "hello\n" }));
  a = await serve("a", "127.0.0.2");
  // Same port as a's where possible, so that only the name differs.
  b = await serve("b", "127.0.0.3", a.port).catch(() => serve("b", "127.0.0.3"));
  forbidden = await serve("metadata", "127.0.0.66", a.port).catch(() =>
    serve("metadata", "127.0.0.66"),
  );
  executor = new LocalExecutor({
    hosts: { "a.test": ["127.0.0.2"], "b.test": ["127.0.0.3"], "c.test": ["127.0.0.66"] },
    egress: { forbidden: ["127.0.0.64/26"] },
  });
});
after(async () => {
  await executor.close();
  for (const s of [a, b, forbidden]) s?.server.close();
  t.cleanup();
});

const commit = () => ({ kind: "commit" as const, repoDir: repo, sha });

function entries(r: EgressRecord | undefined, host: string): ConnectionEntry[] {
  assert.ok(r, "the job has a connection record");
  return r.entries.filter((e) => e.host === host);
}

describe("a job with network.allow reaches only what it lists", () => {
  it("reaches a.test:PORT and is refused everywhere else, each attempt recorded", async () => {
    const before = { a: a.connections, b: b.connections, m: forbidden.connections };
    const P = a.port;
    const script = [
      'c() { w=$1; shift; echo "$w: $(curl -sS --max-time 20 -o /dev/null -w "%{http_code} %{http_connect}" "$@" 2>/dev/null)"; }',
      `curl -sS --max-time 20 http://a.test:${P}/plain`,
      `curl -sS --max-time 20 -p http://a.test:${P}/tunnel`,
      `c other-name http://b.test:${b.port}/`,
      `c other-port http://a.test:${P + 1}/`,
      `c literal http://127.0.0.2:${P}/`,
      `c forbidden-address http://c.test:${forbidden.port}/`,
      `c other-host-header -H "Host: b.test:${P}" http://a.test:${P}/`,
      `c tunnel-other-name -p http://b.test:${b.port}/`,
      // Around the proxy: straight to the address, by name (hosts file) and by number.
      `(exec 3<>/dev/tcp/a.test/${P}) 2>/dev/null && echo raw-name:connected || echo raw-name:failed`,
      `(exec 3<>/dev/tcp/127.0.0.2/${P}) 2>/dev/null && echo raw-address:connected || echo raw-address:failed`,
      `curl -sS --max-time 5 --noproxy '*' http://a.test:${P}/ && echo noproxy:connected || echo noproxy:failed`,
      "getent hosts nowhere.test && echo dns:resolved || echo dns:nxdomain",
      'echo "proxy:$HTTPS_PROXY"',
    ].join("\n");
    const c = request(
      commit(),
      job(script, { egress: { allow: [`a.test:${P}`, "c.test"], audit: false } }),
    );
    const r = await executor.run(c.req);
    const out = c.text();
    assert.equal(r.status, "passed", out);
    assert.match(out, new RegExp(`hello from a \\(a.test:${P} /plain\\)`));
    assert.match(out, new RegExp(`hello from a \\(a.test:${P} /tunnel\\)`));
    for (const what of [
      "other-name",
      "other-port",
      "literal",
      "forbidden-address",
      "other-host-header",
      "tunnel-other-name",
    ]) {
      assert.match(out, new RegExp(`${what}: (403 000|000 403)`), `${what} was refused:\n${out}`);
    }
    assert.match(out, /raw-name:failed/);
    assert.match(out, /raw-address:failed/);
    assert.match(out, /noproxy:failed/);
    assert.match(out, /dns:nxdomain/);
    assert.match(out, /proxy:http:\/\/127\.0\.0\.53:3128/);
    // The servers saw exactly the two allowed connections (plain and tunnel), nothing else.
    assert.equal(a.connections - before.a, 2, "a.test saw the allowed connections only");
    assert.equal(b.connections - before.b, 0, "b.test was never reached");
    assert.equal(forbidden.connections - before.m, 0, "the forbidden address was never reached");

    const rec = r.egress;
    assert.equal(rec?.mode, "enforce");
    const verdicts = (host: string) =>
      entries(rec, host).map((e) => `${e.via} ${e.port} ${e.verdict}`);
    const allowedA = entries(rec, "a.test").filter((e) => e.verdict === "allowed");
    assert.deepEqual(allowedA.map((e) => e.via).sort(), ["connect", "http"]);
    for (const e of allowedA) {
      assert.equal(e.address, "127.0.0.2");
      assert.ok(e.bytesOut > 0 && e.bytesIn > 0, "bytes are counted each way");
    }
    assert.ok(verdicts("a.test").includes(`http ${P + 1} refused`));
    assert.ok(verdicts("b.test").includes(`http ${b.port} refused`));
    assert.ok(verdicts("b.test").includes(`connect ${b.port} refused`));
    assert.ok(verdicts("127.0.0.2").includes(`http ${P} refused`));
    const meta = entries(rec, "c.test")[0];
    assert.equal(meta?.verdict, "refused");
    assert.equal(meta?.address, "127.0.0.66");
    assert.match(meta?.reason ?? "", /127\.0\.0\.66/);
    const hostHeader = entries(rec, "a.test").find((e) => /b\.test/.test(e.reason ?? ""));
    assert.equal(hostHeader?.verdict, "refused");
    assert.ok(verdicts("nowhere.test").includes("dns null refused"));
    // The job's log says what was refused, so nobody has to guess from a 403.
    assert.match(out, /airlock: egress refused: b\.test:\d+ is not in network\.allow\n/);
    assert.match(
      out,
      /airlock: egress refused: nowhere\.test is not in network\.allow \(DNS lookup\)/,
    );
  });

  it("refuses a tunnel whose TLS server name is not listed", async () => {
    const before = a.connections;
    const P = a.port;
    // A ClientHello asking for evil.test, sent through a tunnel opened to a.test.
    const script = `curl -sS --max-time 20 -k -p --connect-to evil.test:${P}:a.test:${P} https://evil.test:${P}/ || echo "curl failed"`;
    const c = request(commit(), job(script, { egress: { allow: [`a.test:${P}`], audit: false } }));
    const r = await executor.run(c.req);
    assert.equal(r.status, "passed", c.text());
    const e = entries(r.egress, "a.test").find((x) => x.via === "connect");
    assert.equal(e?.verdict, "refused", JSON.stringify(r.egress));
    assert.match(e?.reason ?? "", /evil\.test/);
    assert.equal(e?.bytesOut, 0, "nothing of the ClientHello reached the server");
    assert.ok(a.connections - before <= 1);
  });

  it("lets everything through under audit, recording what the list would refuse", async () => {
    const before = b.connections;
    const script = `curl -sS --max-time 20 http://b.test:${b.port}/audited`;
    const c = request(
      commit(),
      job(script, { egress: { allow: [`a.test:${a.port}`], audit: true } }),
    );
    const r = await executor.run(c.req);
    assert.equal(r.status, "passed", c.text());
    assert.match(c.text(), /hello from b/);
    assert.equal(b.connections - before, 1);
    assert.equal(r.egress?.mode, "audit");
    const e = entries(r.egress, "b.test")[0];
    assert.equal(e?.verdict, "audit");
    assert.match(e?.reason ?? "", /not in network\.allow/);
  });

  it("works for an unprivileged Airlock too (the service runs as its own user)", async () => {
    // The executor bundled into one file that user 65534 can read, run as that user.
    const out = mkdtempSync(path.join(tmpdir(), "airlock-egress-bundle-"));
    try {
      chmodSync(out, 0o755);
      const bundle = path.join(out, "child.mjs");
      await build({
        entryPoints: [fileURLToPath(new URL("./fixtures/egress-unprivileged.ts", import.meta.url))],
        bundle: true,
        platform: "node",
        format: "esm",
        // CommonJS dependencies (dns-packet) require() node's modules.
        banner: {
          js: "import { createRequire as airlockRequire } from 'node:module'; const require = airlockRequire(import.meta.url);",
        },
        outfile: bundle,
        logLevel: "error",
      });
      chmodSync(bundle, 0o644);
      const before = a.connections;
      // Asynchronously: the server it fetches from lives in this process.
      const child = await new Promise<{ status: number | null; stdout: string; stderr: string }>(
        (resolve) => {
          execFile(
            "setpriv",
            [
              "--reuid=65534",
              "--regid=65534",
              "--clear-groups",
              process.execPath,
              bundle,
              JSON.stringify({ port: a.port }),
            ],
            {
              env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/tmp", TMPDIR: "/tmp" },
              timeout: 120_000,
            },
            (e, stdout, stderr) => resolve({ status: e ? (e.code as number) : 0, stdout, stderr }),
          );
        },
      );
      assert.equal(child.status, 0, child.stderr);
      const r = JSON.parse(child.stdout) as {
        uid: number;
        status: string;
        error?: string;
        text: string;
        egress: EgressRecord;
      };
      assert.equal(r.uid, 65534);
      assert.equal(r.status, "passed", `${r.text} ${r.error}`);
      assert.match(r.text, /hello from a \(a\.test:\d+ \/unprivileged\)/);
      assert.match(r.text, /dns:nxdomain/);
      assert.equal(a.connections - before, 1);
      assert.deepEqual(
        r.egress.entries.map((e) => [e.via, e.host, e.verdict]),
        [
          ["http", "a.test", "allowed"],
          ["dns", "b.test", "refused"],
        ],
      );
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("never starts the job when its proxy cannot be set up", async () => {
    const ex = new LocalExecutor({ egress: { nsenterPath: "/bin/false" } });
    try {
      const c = request(
        commit(),
        job("echo job-started", { egress: { allow: ["a.test"], audit: false } }),
      );
      const r = await ex.run(c.req);
      assert.equal(r.status, "error");
      assert.match(r.error ?? "", /cannot give the job its egress proxy/);
      assert.doesNotMatch(c.text(), /job-started/);
    } finally {
      await ex.close();
    }
  });

  it("binds the proxy's sockets with Node where there is no Python", async () => {
    const ex = new LocalExecutor({
      hosts: { "a.test": ["127.0.0.2"] },
      egress: { forbidden: ["127.0.0.64/26"], pythonPath: null },
    });
    try {
      const script = [
        `curl -sS --max-time 20 http://a.test:${a.port}/node-helper`,
        "getent hosts nowhere.test && echo dns:resolved || echo dns:nxdomain",
      ].join("\n");
      const c = request(
        commit(),
        job(script, { egress: { allow: [`a.test:${a.port}`], audit: false } }),
      );
      const r = await ex.run(c.req);
      assert.equal(r.status, "passed", c.text());
      assert.match(c.text(), /hello from a \(a\.test:\d+ \/node-helper\)/);
      assert.match(c.text(), /dns:nxdomain/);
      assert.deepEqual(
        r.egress?.entries.map((e) => [e.via, e.host, e.verdict]),
        [
          ["http", "a.test", "allowed"],
          ["dns", "nowhere.test", "refused"],
        ],
      );
    } finally {
      await ex.close();
    }
  });

  it("gives a job without network.allow no egress proxy and no record", async () => {
    const c = request(commit(), job('echo "proxy:[$HTTPS_PROXY]"'));
    const r = await executor.run(c.req);
    assert.equal(r.status, "passed", c.text());
    assert.match(c.text(), /proxy:\[\]/);
    assert.equal(r.egress, undefined);
  });

  it("ends every tunnel when the job ends", async () => {
    // A server that never answers: the tunnel stays open until Airlock closes it.
    const sockets: Socket[] = [];
    let opened!: () => void;
    const seen = new Promise<void>((r) => {
      opened = r;
    });
    const slow = http.createServer(() => {});
    slow.on("connection", (s) => {
      sockets.push(s);
      opened();
    });
    await new Promise<void>((r) => slow.listen(0, "127.0.0.2", r));
    const port = (slow.address() as AddressInfo).port;
    try {
      const script = `curl -sS -p http://a.test:${port}/ >/dev/null 2>&1; sleep 600`;
      const c = request(
        commit(),
        job(script, { egress: { allow: [`a.test:${port}`], audit: false } }),
      );
      const running = executor.run(c.req);
      await seen;
      c.abort();
      const r = await running;
      assert.equal(r.status, "cancelled", c.text());
      await Promise.all(
        sockets.map((s) => (s.closed ? null : new Promise((res) => s.once("close", res)))),
      );
      assert.equal(sockets.length, 1);
      assert.equal(r.egress?.entries[0]?.verdict, "allowed");
    } finally {
      slow.close();
    }
  });
});
