// `airlock dispatch-key` prints the public key that verifies dispatch tokens;
// `airlock verify-dispatch` checks a token offline, as the first job of a private pipeline.
import { existsSync, readFileSync } from "node:fs";
import type { Command } from "commander";
import {
  DispatchError,
  loadOrCreateDispatchKey,
  parsePublicKey,
  verifyDispatch,
} from "../../dispatch/index.js";
import { GITLAB_VARIABLES } from "../../executors/gitlab/variables.js";
import { resolveDataDir } from "../../store/datadir.js";
import { UserError } from "../errors.js";
import { projectDirOf } from "../project-dir.js";

interface VerifyOptions {
  tokenEnv: string;
  publicKey?: string;
  publicKeyEnv: string;
  repo?: string;
  sha?: string;
  ref?: string;
  tests?: string;
  format: string;
}

export function registerDispatch(program: Command): void {
  program
    .command("dispatch-key")
    .description("Print the public key that verifies Airlock's dispatch tokens (PEM)")
    .option("-C, --dir <dir>", "project directory", ".")
    .action((opts: { dir: string }) => {
      const key = loadOrCreateDispatchKey(resolveDataDir(projectDirOf(opts.dir)));
      process.stdout.write(key.publicPem);
    });

  program
    .command("verify-dispatch")
    .description(
      "Verify a dispatch token offline (first job of a private pipeline); prints the verified tests",
    )
    .option(
      "--token-env <name>",
      "environment variable holding the token",
      GITLAB_VARIABLES.dispatch,
    )
    .option("--public-key <file>", "file with the PEM public key (from `airlock dispatch-key`)")
    .option(
      "--public-key-env <name>",
      "environment variable holding the PEM public key or a path to it",
      "AIRLOCK_DISPATCH_PUBLIC_KEY",
    )
    .option("--repo <owner/name>", `repository under test (default: $${GITLAB_VARIABLES.repo})`)
    .option("--sha <sha>", `commit under test (default: $${GITLAB_VARIABLES.sha})`)
    .option("--ref <ref>", "ref of this pipeline (default: $CI_COMMIT_REF_NAME in GitLab CI)")
    .option(
      "--tests <list>",
      `comma-separated tests to run (default: $${GITLAB_VARIABLES.tests} if set)`,
    )
    .option("--format <format>", "how to print the verified tests: csv, json or lines", "csv")
    .action((opts: VerifyOptions) => {
      process.stdout.write(verifyDispatchCommand(opts, process.env, Date.now()));
    });
}

/** The command's logic, apart from process I/O: returns what to print or throws UserError. */
export function verifyDispatchCommand(
  opts: VerifyOptions,
  env: NodeJS.ProcessEnv,
  now: number,
): string {
  if (!["csv", "json", "lines"].includes(opts.format)) {
    throw new UserError(`unknown --format ${JSON.stringify(opts.format)}: use csv, json or lines`);
  }
  const token = env[opts.tokenEnv];
  if (!token) {
    throw new UserError(
      `no dispatch token: the environment variable ${opts.tokenEnv} is empty (Airlock sends it as ${GITLAB_VARIABLES.dispatch})`,
      1,
    );
  }
  const publicKey = parsePublicKeyOrFail(readPublicKeyText(opts, env));
  const repo = opts.repo ?? env[GITLAB_VARIABLES.repo];
  const sha = opts.sha ?? env[GITLAB_VARIABLES.sha];
  if (!repo || !sha) {
    throw new UserError(
      `verify-dispatch needs the repository and commit under test: pass --repo and --sha, or set ${GITLAB_VARIABLES.repo} and ${GITLAB_VARIABLES.sha}`,
    );
  }
  const ref = opts.ref ?? (env.GITLAB_CI ? env.CI_COMMIT_REF_NAME : undefined);
  const testsText = opts.tests ?? env[GITLAB_VARIABLES.tests];
  const tests = testsText === undefined ? undefined : splitList(testsText);
  try {
    const claims = verifyDispatch(token, publicKey, {
      repo,
      sha,
      ...(ref ? { ref } : {}),
      ...(tests ? { tests } : {}),
      now,
    });
    if (opts.format === "json") return `${JSON.stringify(claims.tests)}\n`;
    if (opts.format === "lines") return `${claims.tests.join("\n")}\n`;
    return `${claims.tests.join(",")}\n`;
  } catch (e) {
    if (e instanceof DispatchError) throw new UserError(`dispatch rejected: ${e.message}`, 1);
    throw e;
  }
}

function splitList(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function readPublicKeyText(opts: VerifyOptions, env: NodeJS.ProcessEnv): string {
  if (opts.publicKey) {
    try {
      return readFileSync(opts.publicKey, "utf8");
    } catch {
      throw new UserError(
        `cannot read the public key file ${opts.publicKey}: save the output of \`airlock dispatch-key\` there`,
      );
    }
  }
  const value = env[opts.publicKeyEnv];
  if (!value) {
    throw new UserError(
      `no dispatch public key: pass --public-key FILE or set ${opts.publicKeyEnv} to the output of \`airlock dispatch-key\``,
    );
  }
  // GitLab "file" variables hold a path to the value rather than the value.
  if (!value.includes("-----BEGIN") && existsSync(value)) return readFileSync(value, "utf8");
  return value;
}

function parsePublicKeyOrFail(text: string) {
  try {
    return parsePublicKey(text);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
}
