// `airlock oidc`: the signing keys of Airlock's OIDC issuer — list them, print the JWKS (or PEM
// public keys for verifiers configured offline), rotate with an overlap window, revoke.
import { createPublicKey } from "node:crypto";
import type { Command } from "commander";
import { DURATION_RE, durationStringMs } from "../../config/duration.js";
import { EmbeddedStore } from "../../secrets/embedded.js";
import { SecretsError } from "../../secrets/errors.js";
import { CACHE_MAX_AGE_S } from "../../secrets/oidc/discovery.js";
import { isOidcAlg, OIDC_ALGS, OidcKeyStore } from "../../secrets/oidc/keys.js";
import { UserError } from "../errors.js";
import {
  type CliIo,
  cliActor,
  dataDirOf,
  defaultIo,
  formatTable,
  formatTime,
  withDirOptions,
} from "./common.js";

interface DirOptions {
  dir: string;
  dataDir?: string;
}

/** A rotation publishes the new key this long before it signs: twice what verifiers may cache. */
export const DEFAULT_ACTIVATE_IN = `${(2 * CACHE_MAX_AGE_S) / 60}m`;

async function withKeys<T>(
  io: CliIo,
  opts: DirOptions,
  fn: (keys: OidcKeyStore) => Promise<T>,
): Promise<T> {
  const dataDir = dataDirOf(opts, io.env);
  const db = await io.openStore(dataDir);
  try {
    const store = new EmbeddedStore({ dataDir, store: db, env: io.env });
    return await fn(new OidcKeyStore({ db, store }));
  } catch (e) {
    if (e instanceof SecretsError) throw new UserError(e.message);
    throw e;
  } finally {
    await db.close();
  }
}

export function registerOidc(program: Command, ioOverrides: Partial<CliIo> = {}): void {
  const io = () => defaultIo(ioOverrides);
  const oidc = program
    .command("oidc")
    .description("The OIDC issuer's signing keys: list, JWKS, rotate, revoke (see docs/oidc.md)");

  withDirOptions(oidc.command("keys"))
    .description("List the signing keys: which signs, which are published and until when")
    .option("--json", "print JSON")
    .action(async (opts: DirOptions & { json?: boolean }) => {
      const o = io();
      await withKeys(o, opts, async (keys) => {
        const list = await keys.status();
        if (opts.json) {
          o.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
          return;
        }
        if (list.length === 0) {
          o.stdout.write(
            "no signing key yet: the first ID token creates one (RS256), or run `airlock oidc rotate --now`\n",
          );
          return;
        }
        const rows = [
          ["KID", "ALG", "STATE", "SIGNS FROM", "LAST TOKEN EXPIRES", "PUBLISHED UNTIL"],
        ];
        for (const k of list) {
          rows.push([
            k.kid,
            k.alg,
            k.state,
            formatTime(k.activatesAt),
            formatTime(k.signedUntil),
            k.publishedUntil ? formatTime(k.publishedUntil) : k.state === "expired" ? "-" : "open",
          ]);
        }
        o.stdout.write(formatTable(rows));
      });
    });

  withDirOptions(oidc.command("jwks"))
    .description("Print the published public keys (JWKS), or PEM keys with --pem")
    .option("--pem", "PEM public keys, one after another (Vault's jwt_validation_pubkeys)")
    .action(async (opts: DirOptions & { pem?: boolean }) => {
      const o = io();
      await withKeys(o, opts, async (keys) => {
        const jwks = await keys.jwks();
        if (!opts.pem) {
          o.stdout.write(`${JSON.stringify(jwks, null, 2)}\n`);
          return;
        }
        for (const jwk of jwks.keys) {
          o.stdout.write(
            createPublicKey({ key: jwk as never, format: "jwk" })
              .export({ type: "spki", format: "pem" })
              .toString(),
          );
        }
      });
    });

  withDirOptions(oidc.command("rotate"))
    .description(
      "Create a new signing key: published at once, signing after --activate-in; the old key stays published until its tokens expire",
    )
    .option("--alg <alg>", `signature algorithm: ${OIDC_ALGS.join(" or ")}`, "RS256")
    .option(
      "--activate-in <duration>",
      "how long verifiers get to fetch the new key before it signs",
      DEFAULT_ACTIVATE_IN,
    )
    .option("--now", "sign with the new key at once (the first key, or after a leak)")
    .action(async (opts: DirOptions & { alg: string; activateIn: string; now?: boolean }) => {
      if (!isOidcAlg(opts.alg)) {
        throw new UserError(`--alg ${opts.alg} is not supported: use ${OIDC_ALGS.join(" or ")}`);
      }
      if (!opts.now && !DURATION_RE.test(opts.activateIn)) {
        throw new UserError(
          `--activate-in ${opts.activateIn} is not a duration: write e.g. 10m, 1h or 90s`,
        );
      }
      const activateInMs = opts.now ? 0 : durationStringMs(opts.activateIn);
      const o = io();
      await withKeys(o, opts, async (keys) => {
        const k = await keys.rotate({
          alg: opts.alg as never,
          activateInMs,
          actor: cliActor(o.env),
        });
        o.stdout.write(
          `new ${k.alg} key ${k.kid}: published now, signs from ${formatTime(k.activatesAt)} UTC\n`,
        );
      });
    });

  withDirOptions(oidc.command("revoke"))
    .description("Remove a key from the JWKS at once (it leaked); tokens it signed stop verifying")
    .argument("<kid>", "the key id, from `airlock oidc keys`")
    .action(async (kid: string, opts: DirOptions) => {
      const o = io();
      await withKeys(o, opts, async (keys) => {
        const r = await keys.revoke(kid, cliActor(o.env));
        o.stdout.write(
          `key ${kid} revoked${r.replacement ? `; new ${r.replacement.alg} key ${r.replacement.kid} signs from now` : ""}\n`,
        );
      });
    });
}
