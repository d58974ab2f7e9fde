// Parses pipeline files in a worker thread, so that a large or slow file (a pull request's, which
// anyone can write) never blocks the process's event loop: webhook intake, health checks and
// running jobs go on meanwhile. One worker, started on first use and replaced if it dies; a parse
// that takes too long ends the worker and is refused like any other bad file.
import { Worker } from "node:worker_threads";
import { ConfigError, type ConfigIssue } from "./loader.js";
import type { ParseRequest, ParseResponse } from "./parse-worker.js";
import type { Config } from "./schema.js";

const DEFAULT_TIMEOUT_MS = 20_000;

/** The worker's entry. From TypeScript sources (development and tests), tsx is loaded in it first. */
function spawnWorker(): Worker {
  if (!import.meta.url.endsWith(".ts"))
    return new Worker(new URL("./parse-worker.js", import.meta.url));
  const code = `import { register } from ${JSON.stringify(import.meta.resolve("tsx/esm/api"))};
register();
await import(${JSON.stringify(new URL("./parse-worker.ts", import.meta.url).href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`));
}

interface Pending {
  resolve(c: Config): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
  file: string;
}

export class OffThreadParser {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(private readonly timeoutMs = DEFAULT_TIMEOUT_MS) {}

  /** Like parseConfig, in the worker: resolves the config or rejects with its ConfigError. */
  parse(text: string, file: string): Promise<Config> {
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise<Config>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(this.refused(file, `it took longer than ${this.timeoutMs / 1000}s to parse`));
        // The worker may be stuck in this file: the next parse gets a fresh one.
        this.replaceWorker(new Error("a parse took too long"));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer, file });
      worker.postMessage({ id, text, file } satisfies ParseRequest);
    });
  }

  /** Ends the worker (pending parses fail). */
  async close(): Promise<void> {
    const w = this.worker;
    this.replaceWorker(new Error("the parser was closed"));
    await w?.terminate();
  }

  private refused(file: string, why: string): ConfigError {
    const issue: ConfigIssue = {
      file,
      line: 0,
      col: 0,
      path: "",
      message: `configuration rejected: ${why}`,
    };
    return new ConfigError([issue]);
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const w = spawnWorker();
    // An idle parser never keeps the process alive.
    w.unref();
    w.on("message", (res: ParseResponse) => {
      const p = this.pending.get(res.id);
      if (!p) return;
      this.pending.delete(res.id);
      clearTimeout(p.timer);
      if (res.ok) p.resolve(res.config as Config);
      else if ("issues" in res) p.reject(new ConfigError(res.issues));
      else p.reject(new Error(`parsing ${p.file} failed: ${res.error}`));
    });
    w.on("error", (e) => this.replaceWorker(e));
    w.on("exit", () => {
      if (this.worker === w) this.replaceWorker(new Error("the parser worker exited"));
    });
    this.worker = w;
    return w;
  }

  private replaceWorker(e: Error): void {
    const w = this.worker;
    this.worker = undefined;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(e);
    }
    void w?.terminate();
  }
}
