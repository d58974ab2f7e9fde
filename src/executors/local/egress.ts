// A sandbox with `network: { allow: [...] }` gets a network namespace of its own holding only
// loopback: no route leads out. Its one way out is Airlock's egress proxy and DNS server, whose
// listening sockets live *inside* that namespace (at 127.0.0.53) but belong to Airlock's
// process: while bwrap waits on --block-fd, a short-lived helper enters the namespace, binds
// them, hands them over through Node's IPC channel and exits. Connections then go straight from
// the job to Airlock: no forwarder in between, no port on the host, nothing the job can reach
// but the proxy. See docs/security.md ("Egress allowlist").
//
// Entering the namespace and binding port 53 there needs capabilities over it. bwrap runs such a
// job inside a user namespace of Airlock's own (`unshare --user --map-root-user`), which owns
// every namespace bwrap then makes; the helper enters that user namespace (it stays with bwrap's
// outer process, unlike the sandbox's, which bwrap nests further) and has them, as root or not.
import { spawn } from "node:child_process";
import type dgram from "node:dgram";
import { existsSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import type net from "node:net";
import path from "node:path";
import type { EgressRecord } from "../../egress/record.js";
import type { EgressSession } from "../../egress/session.js";
import { findExecutable } from "./check.js";

/** Where the job finds its proxy (port 3128) and DNS server (port 53). */
export const EGRESS_ADDRESS = "127.0.0.53";
export const PROXY_PORT = 3128;
const PROXY_URL = `http://${EGRESS_ADDRESS}:${PROXY_PORT}`;

/** The environment that points a job's tools at its proxy (the job's own `env` may add to it). */
export function egressEnv(): Record<string, string> {
  const noProxy = "localhost,127.0.0.1,::1";
  return {
    HTTP_PROXY: PROXY_URL,
    HTTPS_PROXY: PROXY_URL,
    http_proxy: PROXY_URL,
    https_proxy: PROXY_URL,
    NO_PROXY: noProxy,
    no_proxy: noProxy,
    // Node's fetch and http honour the variables above only when asked (Node 22.21+, 24.5+).
    NODE_USE_ENV_PROXY: "1",
  };
}

/** The job's /etc/resolv.conf, written once per workspace root. */
export async function egressResolvConf(root: string): Promise<string> {
  const file = path.join(root, "egress-resolv.conf");
  if (!existsSync(file)) {
    await writeFile(file, `nameserver ${EGRESS_ADDRESS}\noptions timeout:2 attempts:2\n`, {
      mode: 0o644,
    });
  }
  return file;
}

// The helper runs inside the job's network namespace, binds the sockets and hands them over on
// Node's IPC channel; fixed text, never anything of the job. The system's Python starts in a
// tenth of the time Node takes, which is most of a job's egress set-up; Node is the fallback.
// Python speaks the channel's handle message itself: one JSON line per socket, sent with it as
// SCM_RIGHTS (the form child_process uses between Node processes); the sockets are non-blocking,
// as Node's event loop needs them.
const PYTHON_HELPER = `
import json, os, socket, sys
try:
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("${EGRESS_ADDRESS}", ${PROXY_PORT}))
    tcp.listen(511)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("${EGRESS_ADDRESS}", 53))
except OSError as e:
    sys.stderr.write(e.strerror or str(e))
    sys.exit(1)
ch = socket.socket(fileno=int(os.environ["NODE_CHANNEL_FD"]))
for s, msg in ((tcp, {"type": "net.Server", "msg": "proxy"}),
               (udp, {"type": "dgram.Socket", "msg": "dns", "dgramType": "udp4"})):
    s.setblocking(False)
    line = json.dumps(dict(msg, cmd="NODE_HANDLE")) + "\\n"
    socket.send_fds(ch, [line.encode()], [s.fileno()])
got = b""
while got.count(b"NODE_HANDLE_ACK") < 2:
    more = ch.recv(4096)
    if not more:
        break
    got += more
`;

const NODE_HELPER = `
const net = require("node:net"), dgram = require("node:dgram");
const fail = (e) => { process.stderr.write(String((e && e.message) || e)); process.exit(1); };
const tcp = net.createServer();
tcp.on("error", fail);
tcp.listen({ host: "${EGRESS_ADDRESS}", port: ${PROXY_PORT}, exclusive: true }, () => {
  const udp = dgram.createSocket("udp4");
  udp.on("error", fail);
  udp.bind({ address: "${EGRESS_ADDRESS}", port: 53, exclusive: true }, () => {
    process.send("proxy", tcp, () => process.send("dns", udp, () => {
      tcp.close(); udp.close(); process.disconnect();
    }));
  });
});`;

/** The system's Python 3 (`python` when given; null: none). */
export function egressPython(python: string | null | undefined): string | null {
  return python === undefined ? findExecutable("python3", "/usr/bin:/usr/local/bin") : python;
}

/** The helper's command: the system's Python 3 when there is one, else Node. */
function helperCommand(python: string | null | undefined): string[] {
  const py = egressPython(python);
  return py ? [py, "-I", "-S", "-c", PYTHON_HELPER] : [process.execPath, "-e", NODE_HELPER];
}

export interface AttachOptions {
  /** util-linux's nsenter (default: found on PATH). */
  nsenterPath?: string;
  /** The Python 3 the helper runs on (default: the system's); null: Node instead. */
  pythonPath?: string | null;
  signal: AbortSignal;
  timeoutMs?: number;
}

/** What bwrap runs under for a job with egress: a user namespace of Airlock's own. */
export function egressWrapper(unsharePath?: string): string[] {
  const unshare = unsharePath ?? findExecutable("unshare");
  if (!unshare) {
    throw new Error("unshare (util-linux) is not installed: apt-get install -y util-linux");
  }
  return [unshare, "--user", "--map-root-user", "--"];
}

/** The parent of `pid` (bwrap's outer process, for the sandbox's init), or null. */
function parentOf(pid: number): number | null {
  try {
    const m = /^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * Makes `session` serve the network namespace of the sandbox whose init is `pid`; bwrap (its
 * parent) runs under egressWrapper().
 */
export function attachEgress(pid: number, session: EgressSession, o: AttachOptions): Promise<void> {
  const nsenter = o.nsenterPath ?? findExecutable("nsenter");
  if (!nsenter) {
    return Promise.reject(
      new Error("nsenter (util-linux) is not installed: apt-get install -y util-linux"),
    );
  }
  const outer = parentOf(pid);
  if (outer === null) {
    return Promise.reject(new Error("the sandbox ended before its proxy was set up"));
  }
  const args = [
    `--user=/proc/${outer}/ns/user`,
    `--net=/proc/${pid}/ns/net`,
    "--preserve-credentials",
    ...helperCommand(o.pythonPath),
  ];
  return new Promise((resolve, reject) => {
    // Nothing of Airlock's environment (NODE_OPTIONS, loaders) reaches the helper.
    const helper = spawn(nsenter, args, { env: {}, stdio: ["ignore", "ignore", "pipe", "ipc"] });
    let stderr = "";
    let got = 0;
    let settled = false;
    const done = (e?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal.removeEventListener("abort", onAbort);
      if (e) {
        if (helper.exitCode === null) helper.kill("SIGKILL");
        reject(e);
      } else resolve();
    };
    const onAbort = () => done(new Error("cancelled"));
    o.signal.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(
      () => done(new Error("the helper did not hand over the sockets in time")),
      o.timeoutMs ?? 30_000,
    );
    helper.stderr!.on("data", (c: Buffer) => {
      stderr = (stderr + c.toString("utf8")).slice(-500);
    });
    helper.on("error", (e) => done(e));
    helper.on("message", (msg: unknown, handle: unknown) => {
      if (settled) {
        (handle as { close?: () => void } | undefined)?.close?.();
        return;
      }
      if (msg === "proxy") session.serveProxy(handle as net.Server);
      else if (msg === "dns") session.serveDns(handle as dgram.Socket);
      if (++got === 2) done();
    });
    helper.on("exit", (code) => {
      if (got < 2)
        done(new Error(stderr.trim().split("\n").pop() || `the helper exited with ${code}`));
    });
  });
}

export interface SandboxEgressOptions {
  hosts?: Record<string, string[]>;
  forbidden?: string[];
  nsenterPath?: string;
  pythonPath?: string | null;
  /** A line for the job's log. */
  note(line: string): void;
  signal: AbortSignal;
  /** Called when the proxy cannot be set up: the sandbox must not start (kill it). */
  onFail(): void;
}

/** One sandbox's egress, from bwrap's first report to the job's end. */
export class SandboxEgress {
  readonly env = egressEnv();
  /** Written to bwrap's --block-fd once the proxy serves the sandbox: the job starts then. */
  readonly ready: Promise<Buffer>;
  readonly #session: EgressSession;
  readonly #o: SandboxEgressOptions;
  #go!: (b: Buffer) => void;
  #stop!: (e: Error) => void;
  #started = false;
  #error: Error | null = null;
  readonly #abort = new AbortController();

  constructor(session: EgressSession, o: SandboxEgressOptions) {
    this.#session = session;
    this.#o = o;
    this.ready = new Promise((resolve, reject) => {
      this.#go = resolve;
      this.#stop = reject;
    });
    this.ready.catch(() => {});
  }

  /** Called with the sandbox's init as soon as bwrap reports it (again and again: once counts). */
  start(pid: number): void {
    if (this.#started) return;
    this.#started = true;
    attachEgress(pid, this.#session, {
      signal: AbortSignal.any([this.#o.signal, this.#abort.signal]),
      ...(this.#o.nsenterPath ? { nsenterPath: this.#o.nsenterPath } : {}),
      ...(this.#o.pythonPath !== undefined ? { pythonPath: this.#o.pythonPath } : {}),
    }).then(
      () => this.#go(Buffer.from("1")),
      (e: Error) => {
        this.#error = e;
        this.#stop(e);
        this.#o.onFail();
      },
    );
  }

  /** Ends the proxy and every connection; the record, and why setting up failed (if it did). */
  async finish(): Promise<{ record: EgressRecord; error: Error | null }> {
    this.#abort.abort();
    this.#stop(new Error("the job is over"));
    return { record: await this.#session.close(), error: this.#error };
  }
}
