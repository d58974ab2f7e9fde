// `airlock app manifest|convert`: register Airlock's GitHub App in one click with GitHub's manifest
// flow, then store the credentials GitHub hands back (files of mode 0600, never printed).
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import type { Command } from "commander";
import {
  buildManifest,
  convertManifestCode,
  MANIFEST_REDIRECT_PATH,
  ManifestError,
  manifestPage,
  manifestPostUrl,
  storeAppCredentials,
} from "../../forge/github/manifest.js";
import { SecretsError } from "../../secrets/errors.js";
import { readSecretValue } from "../../secrets/input.js";
import { resolveDataDir } from "../../store/datadir.js";
import { UserError } from "../errors.js";
import { projectDirOf } from "../project-dir.js";
import { registerRedeliver } from "./app-redeliver.js";

export interface AppCommandIo {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: Pick<Writable, "write">;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
}

const defaultIo = (): AppCommandIo => ({
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});

/** Runs `fn`, turning the module's own errors into one-line user errors. */
async function userErrors<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ManifestError) throw new UserError(e.message);
    throw e;
  }
}

interface ManifestOpts {
  url: string;
  name?: string;
  org?: string;
  githubUrl?: string;
  public?: boolean;
  html?: boolean;
}

interface ConvertOpts {
  apiUrl: string;
  dataDir?: string;
  dir: string;
  force?: boolean;
}

/** The one-time code: an argument, or (better: argv is visible in `ps`) stdin or a hidden prompt. */
async function readCode(io: AppCommandIo, arg: string | undefined): Promise<string> {
  if (arg !== undefined) return arg;
  try {
    return await readSecretValue(
      { stdin: io.stdin, prompt: io.stderr },
      "the code from GitHub's redirect",
    );
  } catch (e) {
    if (e instanceof SecretsError) {
      throw new UserError(
        "no code given: paste the value after ?code= from the address bar at the prompt, or pipe it on stdin",
      );
    }
    throw e;
  }
}

export function registerApp(program: Command, ioOverride?: Partial<AppCommandIo>): void {
  const io = () => ({ ...defaultIo(), ...ioOverride });
  const app = program
    .command("app")
    .description(
      "Register Airlock's GitHub App (manifest flow), store its credentials, redeliver webhooks",
    );

  app
    .command("manifest")
    .description("Print the GitHub App manifest (JSON), or with --html a page that submits it")
    .requiredOption("--url <url>", "Airlock's public address, e.g. https://airlock.example.org")
    .option("--name <name>", "the App's name on GitHub (default: airlock-<host>)")
    .option("--org <org>", "register the App under this organization instead of your account")
    .option(
      "--github-url <url>",
      "GitHub's web address (Enterprise Server: https://HOST)",
      "https://github.com",
    )
    .option("--public", "let other accounts install the App (default: only the owner)")
    .option("--html", "print an HTML page that posts the manifest to GitHub when opened")
    .action(async (opts: ManifestOpts) => {
      const { stdout, stderr } = io();
      await userErrors(() => {
        const manifest = buildManifest({
          url: opts.url,
          ...(opts.name !== undefined ? { name: opts.name } : {}),
          ...(opts.public ? { public: true } : {}),
        });
        const postUrl = manifestPostUrl({
          ...(opts.githubUrl ? { githubUrl: opts.githubUrl } : {}),
          ...(opts.org !== undefined ? { org: opts.org } : {}),
        });
        if (opts.html) {
          stdout.write(manifestPage(manifest, postUrl));
          stderr.write(
            `open the page in a browser signed in to GitHub; after "Create GitHub App", GitHub opens ${manifest.url}${MANIFEST_REDIRECT_PATH}?code=…: run \`airlock app convert\` and paste that code (valid for one hour)\n`,
          );
          return;
        }
        stdout.write(`${JSON.stringify(manifest, null, 2)}\n`);
        stderr.write(
          `post this JSON as the form field "manifest" to ${postUrl} (or use --html for a page that does it)\n`,
        );
      });
    });

  app
    .command("convert")
    .description(
      "Exchange the code from GitHub's redirect for the App's credentials and write them to the data directory",
    )
    .argument("[code]", "the code; omit it to be prompted (an argument is visible in `ps`)")
    .option(
      "--api-url <url>",
      "GitHub's REST API (Enterprise Server: https://HOST/api/v3)",
      "https://api.github.com",
    )
    .option("-C, --dir <dir>", "the project directory", ".")
    .option("--data-dir <dir>", "the data directory (default: $AIRLOCK_HOME or <project>/.airlock)")
    .option("--force", "replace the credentials of an App registered before")
    .action(async (codeArg: string | undefined, opts: ConvertOpts) => {
      const o = io();
      const dataDir = opts.dataDir
        ? path.resolve(opts.dataDir)
        : resolveDataDir(projectDirOf(opts.dir), o.env);
      const code = await readCode(o, codeArg);
      const stored = await userErrors(async () => {
        const creds = await convertManifestCode({
          code,
          apiUrl: opts.apiUrl,
          ...(o.fetch ? { fetch: o.fetch } : {}),
        });
        const s = storeAppCredentials(dataDir, creds, {
          apiUrl: opts.apiUrl,
          ...(opts.force ? { force: true } : {}),
        });
        return { creds, s };
      });
      const { creds, s } = stored;
      const lines = [
        `registered the GitHub App ${creds.slug} (id ${creds.id}${creds.owner ? `, owner ${creds.owner}` : ""})`,
        `credentials written to ${s.dir} (private key, webhook secret, client secret: mode 0600)`,
        `start the gateway:  airlock serve --config ${s.serveConfig}`,
      ];
      if (creds.htmlUrl) lines.push(`install the App:    ${creds.htmlUrl}/installations/new`);
      if (s.generatedWebhookSecret) {
        lines.push(
          `GitHub set no webhook secret: one was generated into ${path.join(s.dir, "webhook-secret")}; enter it under "Webhook secret" in the App's settings`,
        );
      }
      o.stdout.write(`${lines.join("\n")}\n`);
    });

  registerRedeliver(app, () => {
    const o = io();
    return { stdout: o.stdout, env: o.env, ...(o.fetch ? { fetch: o.fetch } : {}) };
  });
}
