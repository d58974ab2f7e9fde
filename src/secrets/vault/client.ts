// A small typed Vault/OpenBao client: the operations Airlock needs and no more, each saying what
// to ask and what the answer means. How a request travels (retries, scrubbing) is in
// transport.ts.
import type {
  CreateTokenOptions,
  KvMetadata,
  KvSecret,
  KvVersionMeta,
  MountInfo,
  SealStatus,
  TokenInfo,
  VaultAuth,
  VaultResponse,
  WrapInfo,
} from "./answers.js";
import { VaultError } from "./errors.js";
import { VaultTransport } from "./transport.js";

export class VaultClient extends VaultTransport {
  /** The same client speaking with another token (a login's, or a job's). */
  withToken(token: string): VaultClient {
    return new VaultClient(
      {
        address: this.address,
        namespace: this.namespace,
        token,
        ...this.opts,
        fetch: this.fetchFn,
      },
      this.sensitive,
    );
  }

  // ---- KV version 2 ----

  async kv2Read(mount: string, path: string, version?: number): Promise<KvSecret | null> {
    const query = version === undefined ? undefined : { version: String(version) };
    const r = await this.request<KvSecret>("GET", `${mount}/data/${path}`, {
      query,
      notFoundOk: true,
    });
    if (!r?.data?.data) return null;
    this.markValues(r.data.data);
    return r.data;
  }

  /** Writes a new version; `cas` makes the write fail unless the current version is `cas` (0: absent). */
  async kv2Write(
    mount: string,
    path: string,
    data: Record<string, unknown>,
    cas?: number,
  ): Promise<KvVersionMeta> {
    this.markValues(data);
    const body: Record<string, unknown> = { data };
    if (cas !== undefined) body.options = { cas };
    const r = await this.request<KvVersionMeta>("POST", `${mount}/data/${path}`, { body });
    return r!.data;
  }

  async kv2ReadMetadata(mount: string, path: string): Promise<KvMetadata | null> {
    const r = await this.request<KvMetadata>("GET", `${mount}/metadata/${path}`, {
      notFoundOk: true,
    });
    return r?.data ?? null;
  }

  /** Keys under a folder (names ending in `/` are folders). The API lists folders, not mounts. */
  async kv2List(mount: string, path: string): Promise<string[]> {
    if (path.replace(/\/+$/, "") === "") throw new Error("kv2List needs a folder inside the mount");
    const folder = `${path.replace(/\/+$/, "")}/`;
    const r = await this.request<{ keys: string[] }>("GET", `${mount}/metadata/${folder}`, {
      query: { list: "true" },
      notFoundOk: true,
    });
    return r?.data?.keys ?? [];
  }

  /** Soft-deletes the latest version. */
  async kv2DeleteLatest(mount: string, path: string): Promise<void> {
    await this.request("DELETE", `${mount}/data/${path}`);
  }

  async kv2DeleteVersions(mount: string, path: string, versions: number[]): Promise<void> {
    await this.request("POST", `${mount}/delete/${path}`, { body: { versions } });
  }

  async kv2Undelete(mount: string, path: string, versions: number[]): Promise<void> {
    await this.request("POST", `${mount}/undelete/${path}`, { body: { versions } });
  }

  async kv2Destroy(mount: string, path: string, versions: number[]): Promise<void> {
    await this.request("POST", `${mount}/destroy/${path}`, { body: { versions } });
  }

  // ---- KV version 1 ----

  async kv1Read(mount: string, path: string): Promise<Record<string, unknown> | null> {
    const r = await this.request<Record<string, unknown>>("GET", `${mount}/${path}`, {
      notFoundOk: true,
    });
    if (!r?.data) return null;
    this.markValues(r.data);
    return r.data;
  }

  async kv1Write(mount: string, path: string, data: Record<string, unknown>): Promise<void> {
    this.markValues(data);
    await this.request("POST", `${mount}/${path}`, { body: data });
  }

  // ---- mounts ----

  /** Which mount serves `path`, its type and KV version (sys/internal/ui/mounts). */
  async mountInfo(path: string): Promise<MountInfo> {
    const r = await this.request<{ path: string; type: string; options?: Record<string, string> }>(
      "GET",
      `sys/internal/ui/mounts/${path}`,
    );
    const d = r!.data;
    const mount = d.path.replace(/\/+$/, "");
    const info: MountInfo = { mount, type: d.type };
    if (d.type === "kv" || d.type === "generic") {
      info.kvVersion = d.options?.version === "2" ? 2 : 1;
    }
    return info;
  }

  // ---- login and tokens ----

  async loginAppRole(roleId: string, secretId: string, mount = "approle"): Promise<VaultAuth> {
    this.markSensitive(secretId);
    const r = await this.request("POST", `auth/${mount}/login`, {
      body: { role_id: roleId, secret_id: secretId },
      token: null,
    });
    return this.authOf(r, `auth/${mount}/login`);
  }

  async loginJwt(role: string, jwt: string, mount = "jwt"): Promise<VaultAuth> {
    this.markSensitive(jwt);
    const r = await this.request("POST", `auth/${mount}/login`, {
      body: { role, jwt },
      token: null,
    });
    return this.authOf(r, `auth/${mount}/login`);
  }

  async lookupSelf(): Promise<TokenInfo> {
    const r = await this.request<TokenInfo>("GET", "auth/token/lookup-self");
    return r!.data;
  }

  /** A child of this client's token: revoking the parent revokes it too. */
  async createToken(o: CreateTokenOptions): Promise<VaultAuth> {
    const body: Record<string, unknown> = {
      policies: o.policies,
      ttl: o.ttl,
      num_uses: o.numUses,
      no_default_policy: o.noDefaultPolicy ?? true,
      renewable: o.renewable ?? false,
    };
    if (o.explicitMaxTtl) body.explicit_max_ttl = o.explicitMaxTtl;
    if (o.meta) body.meta = o.meta;
    if (o.displayName) body.display_name = o.displayName;
    const r = await this.request("POST", "auth/token/create", { body, idempotent: false });
    return this.authOf(r, "auth/token/create");
  }

  async renewSelf(increment?: string): Promise<VaultAuth> {
    const r = await this.request("POST", "auth/token/renew-self", {
      body: increment ? { increment } : {},
    });
    return this.authOf(r, "auth/token/renew-self");
  }

  async renewToken(token: string, increment?: string): Promise<VaultAuth> {
    this.markSensitive(token);
    const body: Record<string, unknown> = { token };
    if (increment) body.increment = increment;
    const r = await this.request("POST", "auth/token/renew", { body });
    return this.authOf(r, "auth/token/renew");
  }

  /** Revokes a token and its children. */
  async revokeToken(token: string): Promise<void> {
    this.markSensitive(token);
    await this.request("POST", "auth/token/revoke", { body: { token } });
  }

  /** Revokes a token by its accessor, so the token itself need not travel again. */
  async revokeAccessor(accessor: string): Promise<void> {
    await this.request("POST", "auth/token/revoke-accessor", { body: { accessor } });
  }

  async revokeSelf(): Promise<void> {
    await this.request("POST", "auth/token/revoke-self");
  }

  // ---- leases (dynamic secrets) ----

  /** Reads a dynamic secret: each read creates credentials and a lease. */
  async readDynamic(path: string): Promise<VaultResponse<Record<string, unknown>>> {
    const r = await this.request<Record<string, unknown>>("GET", path, { idempotent: false });
    this.markValues(r!.data ?? {});
    return r!;
  }

  async revokeLease(leaseId: string): Promise<void> {
    await this.request("POST", "sys/leases/revoke", { body: { lease_id: leaseId } });
  }

  // ---- response wrapping ----

  /** Reads `path` but has Vault answer with a single-use wrapping token instead of the data. */
  async readWrapped(path: string, ttl: string): Promise<WrapInfo> {
    const r = await this.request("GET", path, { wrapTtl: ttl, idempotent: false });
    if (!r?.wrap_info) {
      throw new VaultError({
        kind: "http",
        status: 200,
        method: "GET",
        path,
        errors: [],
        warnings: r?.warnings ?? [],
        hint: "Vault did not wrap the answer (is a proxy dropping X-Vault-Wrap-TTL?)",
        attempts: 1,
      });
    }
    this.markSensitive(r.wrap_info.token);
    return r.wrap_info;
  }

  /** Opens a wrapping token (once: Vault destroys it). */
  async unwrap<T = Record<string, unknown>>(wrappingToken: string): Promise<VaultResponse<T>> {
    this.markSensitive(wrappingToken);
    // The wrapping token goes in the header; the description requires a body, so send an empty one.
    const r = await this.request<T>("POST", "sys/wrapping/unwrap", {
      body: {},
      token: wrappingToken,
      idempotent: false,
    });
    if (r?.auth?.client_token) this.markSensitive(r.auth.client_token);
    if (r?.data && typeof r.data === "object") this.markValues(r.data as Record<string, unknown>);
    return r!;
  }

  // ---- system ----

  async sealStatus(): Promise<SealStatus> {
    const r = await this.request<never>("GET", "sys/seal-status", {
      token: null,
      retriesOff: true,
    });
    // seal-status answers at the top level, not under `data`.
    return r as unknown as SealStatus;
  }

  /** An ACL policy's rules, or null when it does not exist. */
  async readPolicy(name: string): Promise<{ name: string; policy: string } | null> {
    const r = await this.request<{ name: string; policy: string }>(
      "GET",
      `sys/policies/acl/${name}`,
      { notFoundOk: true },
    );
    return r?.data ?? null;
  }

  /** What this client's token may do on each path (e.g. `["read"]`, `["deny"]`). */
  async capabilitiesSelf(paths: string[]): Promise<Record<string, string[]>> {
    const r = await this.request<Record<string, unknown>>("POST", "sys/capabilities-self", {
      body: { paths },
    });
    const out: Record<string, string[]> = {};
    for (const p of paths) {
      const caps = r?.data?.[p];
      out[p] = Array.isArray(caps) ? caps.filter((c): c is string => typeof c === "string") : [];
    }
    return out;
  }

  private authOf(r: VaultResponse<unknown> | null, path: string): VaultAuth {
    if (!r?.auth?.client_token) {
      throw new VaultError({
        kind: "http",
        status: 200,
        method: "POST",
        path,
        errors: [],
        warnings: r?.warnings ?? [],
        hint: "Vault answered without a token",
        attempts: 1,
      });
    }
    return r.auth;
  }
}
