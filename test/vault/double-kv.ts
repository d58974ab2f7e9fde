// The Vault double's KV version 2 engine: versions with soft delete, undelete and destroy,
// check-and-set, metadata and listing, shaped as Vault's API answers them.
import { randomBytes } from "node:crypto";

export type Json = Record<string, unknown>;
export type Answer = [number, Json | undefined];

export interface KvVersion {
  data: Json;
  created: number;
  deleted: number;
  destroyed: boolean;
}
interface KvEntry {
  versions: Map<number, KvVersion>;
  current: number;
  oldest: number;
  created: number;
  updated: number;
  maxVersions: number;
  casRequired: boolean;
}

/** Vault's response envelope around an endpoint's `data`. */
export function envelope(data: unknown): Json {
  return {
    request_id: randomBytes(8).toString("hex"),
    lease_id: "",
    renewable: false,
    lease_duration: 0,
    data,
    wrap_info: null,
    warnings: null,
    auth: null,
  };
}

const iso = (ms: number) => (ms ? new Date(ms).toISOString() : "");

export class KvV2 {
  private readonly entries = new Map<string, KvEntry>();

  constructor(private readonly now: () => number) {}

  has(path: string): boolean {
    return this.entries.has(path);
  }
  versions(path: string): Map<number, KvVersion> | undefined {
    return this.entries.get(path)?.versions;
  }
  current(path: string): number {
    return this.entries.get(path)?.current ?? 0;
  }

  /** Stores a new version; -1 when `cas` is given and is not the current version. */
  write(path: string, data: Json, cas?: number): number {
    const now = this.now();
    let e = this.entries.get(path);
    if (!e) {
      e = {
        versions: new Map(),
        current: 0,
        oldest: 0,
        created: now,
        updated: now,
        maxVersions: 10,
        casRequired: false,
      };
      this.entries.set(path, e);
    }
    if (cas !== undefined && cas !== e.current) return -1;
    e.current++;
    e.updated = now;
    e.versions.set(e.current, {
      data: structuredClone(data),
      created: now,
      deleted: 0,
      destroyed: false,
    });
    if (e.oldest === 0) e.oldest = 1;
    while (e.versions.size > e.maxVersions) {
      e.versions.delete(e.oldest);
      e.oldest++;
    }
    return e.current;
  }

  read(path: string, versionQ: string | null): Answer {
    const e = this.entries.get(path);
    if (!e) return [404, { errors: [] }];
    const n = versionQ && versionQ !== "0" ? Number(versionQ) : e.current;
    const v = e.versions.get(n);
    if (!v) return [404, { errors: [] }];
    if (v.deleted || v.destroyed)
      return [404, envelope({ data: null, metadata: versionMeta(v, n) })];
    return [200, envelope({ data: structuredClone(v.data), metadata: versionMeta(v, n) })];
  }

  writeApi(path: string, b: Json): Answer {
    const data = b.data;
    if (!data || typeof data !== "object") return [400, { errors: ["no data provided"] }];
    const cas = (b.options as Json | undefined)?.cas;
    if (this.entries.get(path)?.casRequired && cas === undefined) {
      return [400, { errors: ["check-and-set parameter required for this call"] }];
    }
    const n = this.write(path, data as Json, typeof cas === "number" ? cas : undefined);
    if (n < 0)
      return [400, { errors: ["check-and-set parameter did not match the current version"] }];
    return [200, envelope(versionMeta(this.entries.get(path)!.versions.get(n)!, n))];
  }

  metadata(path: string): Answer {
    const e = this.entries.get(path);
    if (!e) return [404, { errors: [] }];
    const versions: Json = {};
    for (const [n, v] of e.versions) {
      versions[String(n)] = {
        created_time: iso(v.created),
        deletion_time: iso(v.deleted),
        destroyed: v.destroyed,
      };
    }
    return [
      200,
      envelope({
        cas_required: e.casRequired,
        created_time: iso(e.created),
        current_version: e.current,
        custom_metadata: null,
        delete_version_after: "0s",
        max_versions: e.maxVersions,
        oldest_version: e.oldest,
        updated_time: iso(e.updated),
        versions,
      }),
    ];
  }

  list(folder: string): Answer {
    const prefix = folder.endsWith("/") ? folder : `${folder}/`;
    const keys = new Set<string>();
    for (const p of this.entries.keys()) {
      if (!p.startsWith(prefix)) continue;
      const rest = p.slice(prefix.length);
      const slash = rest.indexOf("/");
      keys.add(slash < 0 ? rest : rest.slice(0, slash + 1));
    }
    if (keys.size === 0) return [404, { errors: [] }];
    return [200, envelope({ keys: [...keys].sort() })];
  }

  mark(path: string, versions: number[], op: "delete" | "undelete" | "destroy"): Answer {
    const e = this.entries.get(path);
    if (!e) return [204, undefined];
    for (const n of versions ?? []) {
      const v = e.versions.get(n);
      if (!v) continue;
      if (op === "delete") v.deleted = v.deleted || this.now();
      if (op === "undelete" && !v.destroyed) v.deleted = 0;
      if (op === "destroy") {
        v.destroyed = true;
        v.data = {};
      }
    }
    return [204, undefined];
  }
}

function versionMeta(v: KvVersion, n: number): Json {
  return {
    version: n,
    created_time: iso(v.created),
    deletion_time: iso(v.deleted),
    destroyed: v.destroyed,
    custom_metadata: null,
  };
}
