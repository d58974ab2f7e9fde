// The definitions a PR runs under: restricted jobs and secrets from the trusted base commit (read
// through the forge at the base SHA), public jobs from the head commit (read from the fetched code).
import { MAX_CONFIG_BYTES, tooLargeIssue } from "../../config/guard.js";
import { ConfigError } from "../../config/loader.js";
import type { Config } from "../../config/schema.js";
import { FileTooLargeError, type Forge, repoRef } from "../../forge/types.js";
import { block, code, renderConfigCheck, renderGateCheck } from "../checks.js";
import { restrictedJobIds } from "../decide.js";
import { CONFIG_FILE, combineDefinitions } from "../definitions.js";
import { type Flow, type Loaded, type PrFacts, short } from "./types.js";

type Parse = (text: string, file: string) => Promise<Config>;

/** A file refused for its size, as the ConfigError every other refusal is. */
function refusal(e: unknown, file: string): ConfigError | undefined {
  if (e instanceof ConfigError) return e;
  if (e instanceof FileTooLargeError) return new ConfigError([tooLargeIssue(file, e.bytes)]);
  return undefined;
}

/** Parsed base definitions by repo@sha (a commit's file never changes), the newest few hundred. */
export class BaseConfigs {
  private readonly parsed = new Map<string, Config | null>();

  constructor(
    private readonly forge: (installationId: number) => Forge,
    private readonly parse: Parse,
    private readonly keep = 200,
  ) {}

  /** The base commit's definition (null: it has none); throws ConfigError when it is invalid. */
  async get(repo: string, installationId: number, baseSha: string): Promise<Config | null> {
    const key = `${repo}@${baseSha}`;
    let base = this.parsed.get(key);
    if (base === undefined) {
      const file = `${CONFIG_FILE} at ${short(baseSha)}`;
      try {
        const text = await this.forge(installationId).fileAt(repoRef(repo), CONFIG_FILE, baseSha, {
          maxBytes: MAX_CONFIG_BYTES,
        });
        base = text === undefined ? null : await this.parse(text, file);
      } catch (e) {
        throw refusal(e, file) ?? e;
      }
      if (this.parsed.size >= this.keep) this.parsed.delete(this.parsed.keys().next().value!);
      this.parsed.set(key, base);
    }
    return base;
  }
}

/**
 * The trusted base definition (contents API at the base SHA) combined with the head's public
 * jobs (read from the fetched head commit). Undefined when the base has no `.airlock.yml`.
 */
export async function load(flow: Flow, f: PrFacts): Promise<Loaded | undefined> {
  let base: Config | null;
  try {
    base = await flow.baseConfig(f.repo, f.installationId, f.baseSha);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    await flow.o.outbox.checkRun(
      f.repo,
      f.installationId,
      renderGateCheck(f.headSha, {
        state: "failure",
        title: `The base branch's ${CONFIG_FILE} is invalid`,
        summary: `Airlock reads restricted jobs from the base commit ${f.baseSha}, whose ${CONFIG_FILE} has problems:\n\n${block(e.message)}`,
      }),
    );
    flow.o.outbox.poke();
    return undefined;
  }
  if (base === null) {
    flow.o.log?.info({ repo: f.repo, pr: f.number }, `no ${CONFIG_FILE} on the base commit`);
    return undefined;
  }
  let head: Config | string | null;
  try {
    await flow.o.source.fetch({
      repo: f.repo,
      pr: f.number,
      sha: f.headSha,
      installationId: f.installationId,
    });
    const text = await flow.o.source.fileAt(f.repo, f.headSha, CONFIG_FILE, {
      maxBytes: MAX_CONFIG_BYTES,
    });
    head = text === undefined ? null : await flow.parseConfig(text, CONFIG_FILE);
  } catch (e) {
    const refused = refusal(e, CONFIG_FILE);
    if (!refused) throw e;
    // The PR's own text: shown as code, first problem only; the check says the rest.
    head = code((refused.message.split("\n")[0] ?? "").slice(0, 300));
    await flow.o.outbox.checkRun(
      f.repo,
      f.installationId,
      renderConfigCheck(f.headSha, refused.message.split("\n")),
    );
    flow.o.outbox.poke();
  }
  const defs = combineDefinitions(base, head);
  return { base, defs, restricted: restrictedJobIds(defs.config) };
}
