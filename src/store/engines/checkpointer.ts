// SQLite's WAL checkpoints, off the event loop. A checkpoint copies the pages the WAL holds into
// the database file and waits twice for the disk (fsync). Run by the connection that commits, as
// SQLite does by default every 1,000 pages, it stalls every request the process is serving for
// tens of milliseconds; under webhook intake that is most of the time a commit takes. A
// long-running gateway has a worker thread with a connection of its own checkpoint instead,
// PASSIVE (it never waits for, nor blocks, a writer). The writer's own automatic checkpoint stays,
// far later, because only a writer between transactions restarts the WAL from its start (and as a
// backstop should the worker fall behind or die).
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/** How often the worker checkpoints what the WAL holds (a no-op when nothing was written). */
const EVERY_MS = 100;

/** The writer's own automatic checkpoint, in pages, while the worker checkpoints. */
export const WRITER_CHECKPOINT_PAGES = 16_384;

// Run by the worker as CommonJS: it loads the SQLite driver and nothing of Airlock's.
const WORKER_CODE = `
const { parentPort, workerData } = require("node:worker_threads");
const SQLite = require(workerData.driver);
const db = new SQLite(workerData.file, { fileMustExist: true });
const timer = setInterval(() => {
  try {
    db.pragma("wal_checkpoint(PASSIVE)");
  } catch {}
}, workerData.everyMs);
parentPort.once("message", () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/** Checkpoints `file`, a database in WAL mode, in a worker thread until stopped. */
export function checkpointOffThread(file: string): { stop(): Promise<void> } {
  const driver = createRequire(import.meta.url).resolve("better-sqlite3");
  const worker = new Worker(WORKER_CODE, {
    eval: true,
    workerData: { file, driver, everyMs: EVERY_MS },
  });
  // It never keeps the process alive; should it fail, the writer's own checkpoint does the work.
  worker.unref();
  worker.on("error", () => {});
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  return {
    async stop() {
      // Waiting for it to close its connection keeps the process alive meanwhile.
      worker.ref();
      worker.postMessage("stop");
      await exited;
    },
  };
}
