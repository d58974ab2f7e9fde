// `airlock serve` as a user starts it: the real CLI in a child process, its address and sign-in
// link read from what it prints, and a browser's cookie handling done by hand over fetch.
import type { ChildProcess } from "node:child_process";
import { spawnCli } from "../support/cli.js";
import { PATIENCE_MS } from "../support/patience.js";

export interface Served {
  child: ChildProcess;
  /** http://127.0.0.1:PORT */
  url: string;
  /** The one-time sign-in link (embedded mode only). */
  link?: string;
  output(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `airlock serve ARGS` and waits until it listens (and, embedded, printed its link). */
export async function startServe(
  args: string[],
  o: { cwd: string; env: NodeJS.ProcessEnv; expectLink: boolean; timeoutMs?: number },
): Promise<Served> {
  const child = spawnCli(["serve", "--listen", "127.0.0.1:0", ...args], {
    cwd: o.cwd,
    env: o.env,
  });
  let out = "";
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const ready = new Promise<Served>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`airlock serve did not start:\n${out}`)),
      o.timeoutMs ?? PATIENCE_MS,
    );
    const look = () => {
      const url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out)?.[1];
      const link = /^console: (\S+)$/m.exec(out)?.[1];
      if (url && (link || !o.expectLink)) {
        clearTimeout(timer);
        resolve({
          child,
          url,
          ...(link ? { link } : {}),
          output: () => out,
          async stop() {
            if (child.exitCode === null) child.kill("SIGTERM");
            return exited;
          },
        });
      }
    };
    child.stdout!.setEncoding("utf8").on("data", (s: string) => {
      out += s;
      look();
    });
    child.stderr!.setEncoding("utf8").on("data", (s: string) => {
      out += s;
      look();
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`airlock serve exited (${code}):\n${out}`));
    });
  });
  return ready;
}

/** Cookies as a browser keeps them for one site (names and values only). */
export class Browser {
  private readonly cookies = new Map<string, string>();
  constructor(readonly base: string) {}

  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) {
      headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    }
    const res = await fetch(new URL(path, this.base), { ...init, headers, redirect: "manual" });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (value === "" || /max-age=0/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  setCookie(name: string, value: string): void {
    this.cookies.set(name, value);
  }

  /** Follows redirects within the site, as a browser does for GETs. */
  async get(path: string): Promise<Response> {
    let res = await this.fetch(path);
    for (let i = 0; i < 5 && res.status >= 300 && res.status < 400; i++) {
      res = await this.fetch(res.headers.get("location")!);
    }
    return res;
  }

  /** Posts a console form with the page's CSRF token, from this site. */
  async post(path: string, form: Record<string, string>): Promise<Response> {
    return this.fetch(path, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        origin: new URL(this.base).origin,
      },
      body: new URLSearchParams(form).toString(),
    });
  }
}

/** The CSRF token a console page carries in its forms. */
export function csrfOf(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error("the page has no CSRF token");
  return m[1]!;
}
