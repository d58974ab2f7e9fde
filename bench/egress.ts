// The egress proxy's cost, on loopback only, against baselines measured in the same run:
// - throughput: a job downloading a large file with curl, through its proxy (plain HTTP, and a
//   CONNECT tunnel) against the same download by a job with `network: true` (straight to the
//   server, no proxy); then the same over HTTPS, as registries and cloud APIs serve (a
//   self-signed certificate made with openssl; skipped without it). The server is a separate
//   process on 127.0.0.2;
// - set-up: a no-op job with an allow list against the same job without network.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { LocalExecutor } from "../src/executors/local/executor.js";
import type { JobRequest, JobSpec } from "../src/executors/types.js";
import { makeBenchRepo } from "./sandbox-baselines.js";
import type { BenchResult } from "./types.js";

const MIB = Number(process.env.AIRLOCK_BENCH_EGRESS_MIB ?? 1024);
const ROUNDS = Number(process.env.AIRLOCK_BENCH_EGRESS_ROUNDS ?? 3);
const SETUP_JOBS = Number(process.env.AIRLOCK_BENCH_EGRESS_JOBS ?? 20);

// A server that sends `mib` MiB of one buffer, honouring backpressure, over HTTP and (given a key
// and certificate as arguments) over HTTPS; it prints both ports.
const SERVER = `
const http = require("node:http"), https = require("node:https"), fs = require("node:fs");
const buf = Buffer.alloc(1 << 20, 97);
const send = (req, res) => {
  const n = Number(new URL(req.url, "http://x").searchParams.get("mib"));
  res.writeHead(200, { "content-length": n * buf.length });
  let i = 0;
  const more = () => { while (i < n) { i++; if (!res.write(buf)) return res.once("drain", more); } res.end(); };
  more();
};
const listen = (s) => new Promise((r) => s.listen(0, "127.0.0.2", () => r(s.address().port)));
const [key, cert] = process.argv.slice(1);
Promise.all([
  listen(http.createServer(send)),
  key ? listen(https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, send)) : 0,
]).then((ports) => process.stdout.write(ports.join(" ") + "\\n"));`;

/** A self-signed certificate for the HTTPS rows, or null when openssl is missing. */
function selfSigned(dir: string): [string, string] | null {
  const key = path.join(dir, "key.pem");
  const cert = path.join(dir, "cert.pem");
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
      ].concat(["-keyout", key, "-out", cert, "-subj", "/CN=bench.test", "-days", "1"]),
      { stdio: "ignore" },
    );
    return [key, cert];
  } catch {
    return null;
  }
}

async function startServer(
  tls: [string, string] | null,
): Promise<{ proc: ChildProcess; port: number; tlsPort: number }> {
  const proc = spawn(process.execPath, ["-e", SERVER, ...(tls ?? [])], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const [port, tlsPort] = await new Promise<number[]>((resolve, reject) => {
    proc.stdout!.once("data", (d: Buffer) => resolve(d.toString().trim().split(" ").map(Number)));
    proc.once("exit", (c) => reject(new Error(`the bench server exited (${c})`)));
  });
  return { proc, port: port!, tlsPort: tlsPort! };
}

function spec(run: string, over: Partial<JobSpec>): JobSpec {
  return {
    id: "bench",
    run,
    secrets: [],
    timeoutMs: 600_000,
    network: false,
    reports: [],
    ...over,
  };
}

/** Runs one job; its output and how long the executor took. */
async function runJob(
  executor: LocalExecutor,
  checkout: JobRequest["checkout"],
  job: JobSpec,
): Promise<{ text: string; ms: number }> {
  const output = new PassThrough();
  let text = "";
  output.on("data", (c: Buffer) => {
    text += c.toString();
  });
  const t0 = performance.now();
  const r = await executor.run({
    runId: "bench",
    job,
    checkout,
    env: {},
    secretEnv: {},
    secretFiles: [],
    mounts: [],
    output,
    signal: new AbortController().signal,
  });
  const ms = performance.now() - t0;
  if (r.status !== "passed") throw new Error(`bench job ${r.status}: ${text} ${r.error ?? ""}`);
  return { text, ms };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export default async function egressBench(): Promise<BenchResult> {
  const dir = mkdtempSync(path.join(tmpdir(), "airlock-bench-egress-"));
  const tls = selfSigned(dir);
  const server = await startServer(tls);
  const executor = new LocalExecutor({ tempDir: dir });
  try {
    const { repo, sha } = makeBenchRepo(dir);
    const checkout = { kind: "commit" as const, repoDir: repo, sha };
    // curl's own measure of the transfer (bytes per second), excluding the sandbox's start.
    const curl = (extra: string, url: string) =>
      `curl -sS -o /dev/null -w '%{speed_download} %{size_download}\\n' ${extra} '${url}'`;
    const http = `http://127.0.0.2:${server.port}/big?mib=${MIB}`;
    const https = `https://127.0.0.2:${server.tlsPort}/big?mib=${MIB}`;
    // An address entry is how a job lists a loopback server (loopback is forbidden otherwise).
    const allow = {
      egress: {
        allow: [`127.0.0.2:${server.port}`, `127.0.0.2:${server.tlsPort}`],
        audit: false,
      },
    };
    // Each mode, and the direct download it is compared with (none for a baseline).
    const modes: [string, JobSpec, string | null][] = [
      ["direct (network: true)", spec(curl("--noproxy '*'", http), { network: true }), null],
      ["proxy, plain HTTP", spec(curl("", http), allow), "direct"],
      ["proxy, CONNECT tunnel", spec(curl("-p", http), allow), "direct"],
    ];
    if (tls) {
      modes.push(
        [
          "HTTPS, direct (network: true)",
          spec(curl("-k --noproxy '*'", https), { network: true }),
          null,
        ],
        ["HTTPS, proxy (CONNECT tunnel)", spec(curl("-k", https), allow), "HTTPS, direct"],
      );
    }
    const speeds = new Map<string, number[]>(modes.map(([m]) => [m, []]));
    // Airlock's own CPU time per job (the proxy's, once the sandbox's start is taken away).
    const cpu = new Map<string, number[]>(modes.map(([m]) => [m, []]));
    for (let round = 0; round < ROUNDS; round++) {
      // Alternating, so that a busy moment of the machine falls on every mode alike.
      for (const [mode, job] of modes) {
        const c0 = process.cpuUsage();
        const { text } = await runJob(executor, checkout, job);
        const c = process.cpuUsage(c0);
        cpu.get(mode)!.push((c.user + c.system) / 1000);
        const [speed, size] = text.trim().split(/\s+/).map(Number) as [number, number];
        if (size !== MIB * 2 ** 20) throw new Error(`${mode}: got ${size} bytes: ${text}`);
        speeds.get(mode)!.push(speed);
      }
    }
    const baseline = (against: string) => modes.find(([m]) => m.startsWith(against))![0];
    const rows: BenchResult["rows"] = modes.map(([mode, , against]) => {
      const v = median(speeds.get(mode)!);
      return {
        name: `download ${MIB} MiB, ${mode}`,
        value: v / 2 ** 20,
        unit: "MiB/s",
        ...(against
          ? { ratio: { value: v / median(speeds.get(baseline(against))!), against } }
          : {}),
      };
    });
    for (const [mode, , against] of modes) {
      if (!against) continue;
      rows.push({
        name: `Airlock CPU per GiB, ${mode}`,
        value: ((median(cpu.get(mode)!) - median(cpu.get(baseline(against))!)) * 1024) / MIB,
        unit: "ms",
      });
    }

    // Set-up: the same no-op job, alternating, with and without an allow list.
    const none: number[] = [];
    const withList: number[] = [];
    await runJob(executor, checkout, spec("true", {}));
    for (let i = 0; i < SETUP_JOBS; i++) {
      none.push((await runJob(executor, checkout, spec("true", {}))).ms);
      withList.push((await runJob(executor, checkout, spec("true", allow))).ms);
    }
    const base = median(none);
    const egress = median(withList);
    rows.push(
      { name: "no-op job, no network (median)", value: base, unit: "ms" },
      {
        name: "no-op job with an allow list (median)",
        value: egress,
        unit: "ms",
        ratio: { value: egress / base, against: "no network" },
      },
      { name: "egress set-up per job", value: egress - base, unit: "ms" },
    );
    return {
      bench: "egress proxy (loopback)",
      rows,
      notes: [
        `${ROUNDS} rounds of each download, alternating; medians of curl's own speed (AIRLOCK_BENCH_EGRESS_MIB, _ROUNDS)`,
        `set-up: ${SETUP_JOBS} no-op jobs of each kind, alternating; it is one short-lived helper process per job (python3, node without it)`,
        "the proxy shares Airlock's event loop; both sides of the download and the proxy share the machine's cores",
        "Airlock CPU: the bench process's CPU time during a proxied download, less that of a direct one (the sandbox's start), per GiB",
        tls
          ? "HTTPS: TLS between curl and the server (a self-signed P-256 certificate); the proxy only relays the tunnel's bytes"
          : "HTTPS rows skipped: openssl is not installed",
      ],
    };
  } finally {
    await executor.close();
    server.proc.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
