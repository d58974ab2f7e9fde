// `airlock token create|list|revoke|link`: admin tokens for the console and its API, and one-time
// sign-in links. A token is printed once and stored only as its hash.
import { userInfo } from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { resolveDataDir } from "../../store/datadir.js";
import type { AuditRepo, SessionRepo } from "../../store/index.js";
import { createConsoleLink } from "../../web/auth/console-link.js";
import { UserError } from "../errors.js";
import { openStoreFor } from "../open-store.js";
import { projectDirOf } from "../project-dir.js";

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const EXPIRES = /^(\d{1,5})([mhd])$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "30d", "12h", "90m" → ms from now; "never" → null. */
export function parseExpires(text: string): number | null {
  if (text === "never") return null;
  const m = EXPIRES.exec(text);
  if (!m || Number(m[1]) === 0) {
    throw new UserError(
      `--expires "${text.slice(0, 40)}" is not a lifetime: use e.g. 30d, 12h, 90m, or never`,
    );
  }
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

function actor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return "cli";
  }
}

interface DirOpts {
  dir: string;
  dataDir?: string;
}

async function withStore<T>(
  opts: DirOpts,
  fn: (s: SessionRepo, audit: AuditRepo) => Promise<T>,
): Promise<T> {
  const dataDir = opts.dataDir
    ? path.resolve(opts.dataDir)
    : resolveDataDir(projectDirOf(opts.dir));
  const db = await openStoreFor({ dataDir, env: process.env });
  try {
    return await fn(db.sessions, db.audit);
  } finally {
    await db.close();
  }
}

const day = (ms: number | null) =>
  ms === null ? "never" : new Date(ms).toISOString().slice(0, 16);

export function registerToken(program: Command): void {
  const token = program
    .command("token")
    .description("Admin tokens and sign-in links for the web console and its API");
  const dirOptions = (c: Command) =>
    c
      .option("-C, --dir <dir>", "the project directory", ".")
      .option(
        "--data-dir <dir>",
        "the data directory (default: $AIRLOCK_HOME or <project>/.airlock)",
      );

  dirOptions(
    token
      .command("create")
      .description("Create an admin token; it is printed once and stored only hashed")
      .option("--name <name>", "a unique name for the token (shown in the audit log)")
      .option("--expires <lifetime>", "lifetime: 30d, 12h, 90m or never", "90d"),
  ).action(async (opts: DirOpts & { name?: string; expires: string }) => {
    const ttl = parseExpires(opts.expires);
    const name = opts.name ?? `admin-${new Date().toISOString().slice(0, 10)}-${process.pid}`;
    if (!NAME.test(name)) {
      throw new UserError(
        `--name "${name.slice(0, 70)}" is not a token name: use up to 64 letters, digits, "_", "." and "-"`,
      );
    }
    await withStore(opts, async (store, audit) => {
      if (await store.tokenNameTaken(name)) {
        throw new UserError(
          `a token named "${name}" exists: choose another --name, or revoke it first (airlock token revoke ${name})`,
        );
      }
      const by = actor();
      const { token: raw, info } = await store.createToken({
        name,
        createdBy: by,
        expiresAt: ttl === null ? null : Date.now() + ttl,
      });
      await audit.record({
        action: "token-create",
        actor: by,
        detail: `admin token "${name}", expires ${day(info.expiresAt)}`,
      });
      process.stdout.write(`${raw}\n`);
      process.stderr.write(
        `Created admin token "${name}" (expires ${day(info.expiresAt)}). It is shown only now: store it somewhere safe.\n` +
          `Use it as "Authorization: Bearer <token>" or paste it on the console's sign-in page.\n`,
      );
    });
  });

  dirOptions(token.command("list").description("List admin tokens (never their values)")).action(
    async (opts: DirOpts) => {
      await withStore(opts, async (store) => {
        const rows = await store.listTokens();
        if (rows.length === 0) {
          process.stdout.write("No admin tokens. Create one with: airlock token create\n");
          return;
        }
        const now = Date.now();
        for (const t of rows) {
          const state = t.revokedAt
            ? "revoked"
            : t.expiresAt !== null && t.expiresAt <= now
              ? "expired"
              : "active";
          process.stdout.write(
            `${t.name}\t${state}\tcreated ${day(t.createdAt)} by ${t.createdBy}\texpires ${day(t.expiresAt)}\tlast used ${t.lastUsedAt ? day(t.lastUsedAt) : "never"}\n`,
          );
        }
      });
    },
  );

  dirOptions(
    token
      .command("revoke")
      .description("Revoke an admin token by name; its console sessions end too")
      .argument("<name>", "the token's name (see airlock token list)"),
  ).action(async (name: string, opts: DirOpts) => {
    await withStore(opts, async (store, audit) => {
      if (!(await store.revokeToken(name))) {
        throw new UserError(
          `no active token named "${name.slice(0, 70)}": see the names with airlock token list`,
        );
      }
      await audit.record({
        action: "token-revoke",
        actor: actor(),
        detail: `admin token "${name}"`,
      });
      process.stdout.write(`Revoked admin token "${name}".\n`);
    });
  });

  dirOptions(
    token
      .command("link")
      .description("Print a one-time sign-in link for the console (valid 15 minutes, once)")
      .option("--url <url>", "the console's address", "http://127.0.0.1:8080"),
  ).action(async (opts: DirOpts & { url: string }) => {
    let base: URL;
    try {
      base = new URL(opts.url);
      if (base.protocol !== "http:" && base.protocol !== "https:") throw new Error();
    } catch {
      throw new UserError(
        `--url "${opts.url.slice(0, 100)}" is not an http(s) address, e.g. http://127.0.0.1:8080`,
      );
    }
    await withStore(opts, async (store) => {
      process.stdout.write(`${await createConsoleLink(store, base.origin)}\n`);
    });
  });
}
