// The worker thread that parses pipeline files for the gateway (parse-off-thread.ts): the event
// loop of `airlock serve` never runs YAML parsing or schema checks of a PR's file.
import { parentPort } from "node:worker_threads";
import { ConfigError, parseConfig } from "./loader.js";

export interface ParseRequest {
  id: number;
  text: string;
  file: string;
}

export type ParseResponse =
  | { id: number; ok: true; config: unknown }
  | { id: number; ok: false; issues: ConfigError["issues"] }
  | { id: number; ok: false; error: string };

parentPort?.on("message", (req: ParseRequest) => {
  let res: ParseResponse;
  try {
    res = { id: req.id, ok: true, config: parseConfig(req.text, req.file) };
  } catch (e) {
    res =
      e instanceof ConfigError
        ? { id: req.id, ok: false, issues: e.issues }
        : { id: req.id, ok: false, error: e instanceof Error ? e.message : String(e) };
  }
  parentPort?.postMessage(res);
});
