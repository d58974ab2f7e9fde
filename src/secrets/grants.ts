// Per-job grants: a restricted job receives exactly the sets it declares (DESIGN.md invariant 3),
// each from its set's backend, with env_override applied; every release is audited; if one set
// cannot be granted, those already granted are released before the error goes up.
import { isRestricted, type PlannedJob } from "../pipeline/types.js";
import { applyEnvOverride } from "./env.js";
import { SecretsError } from "./errors.js";
import { grantIdTokens, type IdTokenSettings, jobMinter } from "./oidc/grant.js";
import { type BackendContext, type BackendFactory, registeredBackends } from "./registry.js";
import type { GrantContext, SecretBackend, SecretGrant } from "./types.js";

export interface SecretsServiceOptions extends BackendContext {
  /** Factories by backend kind, over the registered ones (tests, or wiring without registration). */
  factories?: Record<string, BackendFactory>;
  /** Recorded as the actor of releases. */
  actor?: string;
  /** The OIDC issuer, for jobs declaring `id_tokens` and Vault logins with Airlock's token. */
  idTokens?: Omit<IdTokenSettings, "actor">;
}

/** Why a job declaring ID tokens cannot get them here. */
export const NO_ISSUER =
  "ID tokens need the issuer's URL: set AIRLOCK_PUBLIC_URL to the https URL where `airlock serve` publishes /.well-known/openid-configuration (see docs/oidc.md)";

export class SecretsService {
  private readonly factories: Map<string, BackendFactory>;
  private readonly backends = new Map<string, SecretBackend>();

  constructor(private readonly opts: SecretsServiceOptions) {
    this.factories = registeredBackends();
    for (const [kind, f] of Object.entries(opts.factories ?? {})) this.factories.set(kind, f);
  }

  /** The backend serving `set`, by the set's `backend:`. */
  backendFor(set: string): SecretBackend {
    const cfg = this.opts.sets[set];
    if (!cfg) {
      throw new SecretsError(
        `no secret set named "${set}" in the configuration; declare it under \`secrets:\``,
      );
    }
    const kind = cfg.backend;
    let backend = this.backends.get(kind);
    if (!backend) {
      const factory = this.factories.get(kind);
      if (!factory) {
        throw new SecretsError(
          `secret set "${set}" uses the ${kind} backend, which this Airlock does not provide`,
        );
      }
      backend = factory(this.opts);
      this.backends.set(kind, backend);
    }
    return backend;
  }

  /** One set for one job, with env_override applied and the release audited. */
  async grantSet(set: string, ctx: GrantContext): Promise<SecretGrant> {
    const grant = applyEnvOverride(
      await this.backendFor(set).grant(set, ctx),
      this.opts.sets[set],
      this.opts.env,
    );
    try {
      await this.opts.store.audit.record({
        action: "release",
        actor: this.opts.actor ?? "airlock",
        runId: ctx.runId,
        jobId: ctx.jobId,
        set,
        versions: grant.versions,
        detail: grant.notes.length ? grant.notes.join("; ") : null,
      });
    } catch (e) {
      // No release without its audit entry.
      await grant.release().catch(() => {});
      throw e;
    }
    return grant;
  }

  /**
   * Grants for every set `job` declares, and its ID tokens; none for a public job. The runner's
   * `grant` dependency.
   */
  async grantsFor(
    job: Pick<PlannedJob, "id" | "secrets"> & Partial<Pick<PlannedJob, "template" | "idTokens">>,
    ctx: GrantContext,
  ): Promise<SecretGrant[]> {
    if (!isRestricted(job)) return [];
    const settings = this.opts.idTokens && {
      ...this.opts.idTokens,
      actor: this.opts.actor ?? "airlock",
    };
    const withTokens: GrantContext =
      settings && ctx.identity
        ? {
            ...ctx,
            idToken: async (aud) =>
              (await jobMinter(job, ctx, settings)([aud], ctx.timeoutMs, "vault-login")).token,
          }
        : ctx;
    const grants: SecretGrant[] = [];
    try {
      for (const set of new Set(job.secrets)) grants.push(await this.grantSet(set, withTokens));
      if (Object.keys(job.idTokens ?? {}).length > 0) {
        if (!settings) throw new SecretsError(`job ${job.id} declares id_tokens: ${NO_ISSUER}`);
        grants.push(await grantIdTokens(job, ctx, settings));
      }
    } catch (e) {
      await releaseAll(grants);
      throw e;
    }
    return grants;
  }
}

/** Releases every grant, even when some releases fail; the first failure is rethrown. */
export async function releaseAll(grants: SecretGrant[]): Promise<void> {
  const results = await Promise.allSettled(grants.map((g) => g.release()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}
