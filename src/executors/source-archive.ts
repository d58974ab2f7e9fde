// A job's source as a tar stream, for executors whose jobs fetch it from Airlock (the job API's
// source endpoint): the exact commit through `git archive`, or a working tree as it is
// (`airlock run --dirty`) without its .git. No forge credential is involved or sent.
import { spawn } from "node:child_process";
import type { Readable } from "node:stream";
import type { CheckoutSource } from "./types.js";

const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

export function sourceArchive(checkout: CheckoutSource): Readable {
  const [cmd, args] =
    checkout.kind === "commit"
      ? ["git", ["-C", checkout.repoDir, "archive", "--format=tar", shaOf(checkout.sha)]]
      : ["tar", ["-C", checkout.dir, "--exclude=./.git", "-cf", "-", "."]];
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr.on("data", (d: Buffer) => {
    err = (err + d.toString()).slice(-500);
  });
  child.on("close", (code) => {
    if (code !== 0) {
      child.stdout.destroy(
        new Error(`${cmd} could not pack the source (exit ${code}): ${err.trim()}`),
      );
    }
  });
  return child.stdout;
}

function shaOf(sha: string): string {
  if (!SHA.test(sha)) throw new Error(`not a full commit SHA: ${JSON.stringify(sha.slice(0, 80))}`);
  return sha;
}
