// The egress proxy's cost, on loopback only, against baselines measured in the same run:
// - throughput: a job downloading a large file with curl, through its proxy (plain HTTP, and a
//   CONNECT tunnel) against the same download by a job with `network: true` (straight to the
//   server, no proxy); then the same over HTTPS, as registries and cloud APIs serve (a
//   self-signed certificate made with openssl; skipped without it). The server is a separate
//   process on 127.0.0.2. The proxy as it runs (large downloads in the splice relay) and with
//   the proxy relaying everything itself, for comparison;
// - the same downloads held to a 1 Gbit/s link's rate (curl --limit-rate), the proxy's cost on
//   a fast real link rather than on loopback, which no network reaches;
// - set-up: a no-op job with an allow list against the same job without network.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
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

/** A process's CPU time so far (ms), from /proc; 0 once it is gone. */
function cpuMsOf(pid: number | string): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // USER_HZ
  } catch {
    return 0;
  }
}

/**
 * The CPU time of this process's splice relays (children running the relay's script), sampled
 * every 20 ms while `work` runs: a relay is stopped only at its job's end, idle by then.
 */
async function withRelayCpu<T>(work: Promise<T>): Promise<{ value: T; relayMs: number }> {
  const seen = new Map<string, number>();
  const sample = () => {
    for (const task of readdirSync(`/proc/${process.pid}/task`)) {
      let kids: string[] = [];
      try {
        kids = readFileSync(`/proc/${process.pid}/task/${task}/children`, "utf8").split(" ");
      } catch {}
      for (const pid of kids.filter(Boolean)) {
        if (!seen.has(pid)) {
          let cmd = "";
          try {
            cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
          } catch {}
          if (!cmd.includes("SPLICE_F_MOVE")) {
            seen.set(pid, -1);
            continue;
          }
        }
        if (seen.get(pid) !== -1) seen.set(pid, Math.max(seen.get(pid) ?? 0, cpuMsOf(pid)));
      }
    }
  };
  const timer = setInterval(sample, 20);
  try {
    const value = await work;
    sample();
    return { value, relayMs: [...seen.values()].filter((v) => v > 0).reduce((a, b) => a + b, 0) };
  } finally {
    clearInterval(timer);
  }
}

export default async function egressBench(): Promise<BenchResult> {
  const dir = mkdtempSync(path.join(tmpdir(), "airlock-bench-egress-"));
  const tls = selfSigned(dir);
  const server = await startServer(tls);
  const executor = new LocalExecutor({ tempDir: dir });
  // The proxy relaying every byte itself, as before the splice relay.
  const inProcess = new LocalExecutor({ tempDir: dir, egress: { spliceRelay: false } });
  try {
    const { repo, sha } = makeBenchRepo(dir);
    const checkout = { kind: "commit" as const, repoDir: repo, sha };
    // curl's own measure of the transfer (bytes per second), excluding the sandbox's start. A
    // download that stalls fails after five minutes (the size check names it) instead of hanging.
    const curl = (extra: string, url: string) =>
      `curl -sS --max-time 300 -o /dev/null -w '%{speed_download} %{size_download}\\n' ${extra} '${url}'`;
    const http = `http://127.0.0.2:${server.port}/big?mib=${MIB}`;
    const https = `https://127.0.0.2:${server.tlsPort}/big?mib=${MIB}`;
    // A 1 Gbit/s link: 125,000,000 bytes a second, for a quarter of the size.
    const LINK_MIB = Math.max(1, Math.round(MIB / 4));
    const limited = `--limit-rate 125000000`;
    const httpLink = `http://127.0.0.2:${server.port}/big?mib=${LINK_MIB}`;
    // An address entry is how a job lists a loopback server (loopback is forbidden otherwise).
    const allow = {
      egress: {
        allow: [`127.0.0.2:${server.port}`, `127.0.0.2:${server.tlsPort}`],
        audit: false,
      },
    };
    // Each mode, the direct download it is compared with (none for a baseline), its size and
    // the executor it runs on.
    type Mode = [string, JobSpec, string | null, number?, LocalExecutor?];
    const modes: Mode[] = [
      ["direct (network: true)", spec(curl("--noproxy '*'", http), { network: true }), null],
      ["proxy, plain HTTP", spec(curl("", http), allow), "direct"],
      ["proxy, CONNECT tunnel", spec(curl("-p", http), allow), "direct"],
      ["proxy relaying itself, plain HTTP", spec(curl("", http), allow), "direct", MIB, inProcess],
      [
        "proxy relaying itself, CONNECT tunnel",
        spec(curl("-p", http), allow),
        "direct",
        MIB,
        inProcess,
      ],
      [
        "1 Gbit/s link, direct",
        spec(curl(`${limited} --noproxy '*'`, httpLink), { network: true }),
        null,
        LINK_MIB,
      ],
      [
        "1 Gbit/s link, proxy, plain HTTP",
        spec(curl(limited, httpLink), allow),
        "1 Gbit/s link, direct",
        LINK_MIB,
      ],
      [
        "1 Gbit/s link, proxy, CONNECT tunnel",
        spec(curl(`${limited} -p`, httpLink), allow),
        "1 Gbit/s link, direct",
        LINK_MIB,
      ],
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
    // Airlock's own CPU time per job, its splice relay's included (the proxy's, once the
    // sandbox's start is taken away).
    const cpu = new Map<string, number[]>(modes.map(([m]) => [m, []]));
    const relayCpu = new Map<string, number[]>(modes.map(([m]) => [m, []]));
    for (let round = 0; round < ROUNDS; round++) {
      // Alternating, so that a busy moment of the machine falls on every mode alike.
      for (const [mode, job, , mib = MIB, on = executor] of modes) {
        const c0 = process.cpuUsage();
        const { value, relayMs } = await withRelayCpu(runJob(on, checkout, job));
        const c = process.cpuUsage(c0);
        cpu.get(mode)!.push((c.user + c.system) / 1000 + relayMs);
        relayCpu.get(mode)!.push(relayMs);
        const [speed, size] = value.text.trim().split(/\s+/).map(Number) as [number, number];
        if (size !== mib * 2 ** 20) throw new Error(`${mode}: got ${size} bytes: ${value.text}`);
        speeds.get(mode)!.push(speed);
      }
    }
    const baseline = (against: string) => modes.find(([m]) => m.startsWith(against))![0];
    const rows: BenchResult["rows"] = modes.map(([mode, , against, mib = MIB]) => {
      const v = median(speeds.get(mode)!);
      return {
        name: `download ${mib} MiB, ${mode}`,
        value: v / 2 ** 20,
        unit: "MiB/s",
        ...(against
          ? { ratio: { value: v / median(speeds.get(baseline(against))!), against } }
          : {}),
      };
    });
    for (const [mode, , against, mib = MIB] of modes) {
      if (!against) continue;
      const perGiB = (ms: number) => (ms * 1024) / mib;
      rows.push({
        name: `Airlock CPU per GiB, ${mode}`,
        value: perGiB(median(cpu.get(mode)!) - median(cpu.get(baseline(against))!)),
        unit: "ms",
      });
      if (median(relayCpu.get(mode)!) > 0) {
        rows.push({
          name: `  of which its splice relay`,
          value: perGiB(median(relayCpu.get(mode)!)),
          unit: "ms",
        });
      }
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
        "the proxy decides on Airlock's event loop; past 1 MiB a download moves to the job's splice relay (python3, splice(2)); server, curl, Airlock and the relay share the machine's cores",
        "Airlock CPU: the bench process's CPU time during a proxied download, with that of the job's splice relay (a python3 process), less that of a direct one (the sandbox's start), per GiB",
        "1 Gbit/s link: curl --limit-rate 125000000 (bytes a second) on loopback; the proxy keeps up when the ratio is near 1",
        tls
          ? "HTTPS: TLS between curl and the server (a self-signed P-256 certificate); the proxy only relays the tunnel's bytes"
          : "HTTPS rows skipped: openssl is not installed",
      ],
    };
  } finally {
    await executor.close();
    await inProcess.close();
    server.proc.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
