// Checks a request against Vault's own OpenAPI description: path template, method, query
// parameters and JSON body. The Vault double runs it on every request it receives, so the
// client is held to the real API and not to our reading of it.
//
// Mount paths are parameters in the description (`/{kv_v2_mount_path}/data/{path}`); a
// template only applies when the mount it names exists in the double with that type, so a
// KV v2 read cannot pass as a KV v1 read of `secret/data/x`.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const OPENAPI_PATH = join(ROOT, "..", "shared", "oracles", "vault", "openapi.json");

export interface SecretMount {
  path: string;
  type: "kv" | "aws";
  version?: 1 | 2;
}
export interface AuthMount {
  path: string;
  type: "approle" | "jwt" | "token";
}

/**
 * Where the description is silent but Vault's documented behaviour is not. Each entry is a
 * known gap in the description, kept small and explicit.
 */
const QUERY_QUIRKS: Record<string, string[]> = {
  // Documented at /docs/secrets/kv/kv-v2 ("?version=N"), absent from the description.
  "kv-v2-read": ["version"],
};
/** Operations whose body is free-form data although the description lists no body. */
const FREE_BODY = new Set(["kv-v1-write"]);

export interface Match {
  operationId: string;
  template: string;
  params: Record<string, string>;
}

interface Operation {
  template: string;
  method: string;
  operationId: string;
  regex: RegExp;
  names: string[];
  literalChars: number;
  query: Set<string>;
  body?: { required: boolean; validate: ValidateFunction };
}

type Json = Record<string, unknown>;

let cachedDoc: Json | undefined;
function loadDoc(): Json {
  cachedDoc ??= JSON.parse(readFileSync(OPENAPI_PATH, "utf8")) as Json;
  return cachedDoc;
}

/** The description's object schemas name every field; an unnamed field is a mistake. */
function strictify(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strictify);
  if (schema === null || typeof schema !== "object") return schema;
  const s: Json = {};
  for (const [k, v] of Object.entries(schema as Json)) s[k] = strictify(v);
  if (
    s.type === "object" &&
    s.properties &&
    s.additionalProperties === undefined &&
    s.format !== "map" &&
    s.format !== "kvpairs"
  ) {
    s.additionalProperties = false;
  }
  if (typeof s.$ref === "string") s.$ref = s.$ref.replace(/^#/, "vault-openapi#");
  return s;
}

const escapeRe = (s: string) => s.replace(/[.*+?^$()|[\]\\]/g, "\\$&");

export class VaultOracle {
  private readonly ops: Operation[] = [];

  constructor(secretMounts: SecretMount[], authMounts: AuthMount[]) {
    const doc = loadDoc();
    const ajv = new Ajv({ strict: false, allErrors: true, unicodeRegExp: false });
    addFormats(ajv);
    ajv.addFormat("map", true);
    ajv.addFormat("kvpairs", true);
    ajv.addFormat("lowercase", (s: string) => s === s.toLowerCase());
    // Vault durations: "3600", "3600s", "1h30m" (Go durations), not ISO 8601.
    ajv.addFormat("duration", /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h|d)?)+$/);
    const components = strictify(doc.components) as Json;
    ajv.addSchema({ components }, "vault-openapi");

    const mountAlternatives = (param: string, underAuth: boolean): string[] => {
      const t = param.replace(/_mount_path$/, "");
      if (underAuth) return authMounts.filter((m) => m.type === t).map((m) => m.path);
      if (t === "kv_v1")
        return secretMounts.filter((m) => m.type === "kv" && m.version === 1).map((m) => m.path);
      if (t === "kv_v2")
        return secretMounts.filter((m) => m.type === "kv" && m.version === 2).map((m) => m.path);
      return secretMounts.filter((m) => m.type === t).map((m) => m.path);
    };

    for (const [template, item] of Object.entries(doc.paths as Record<string, Json>)) {
      if (template.includes("^")) continue; // a regex leaked into the description; no route
      const names: string[] = [];
      let usable = true;
      let literalChars = 0;
      const underAuth = template.startsWith("/auth/{");
      const pattern = template
        .slice(1)
        .split(/(\{[a-z0-9_]+\})/)
        .map((part) => {
          const m = /^\{([a-z0-9_]+)\}$/.exec(part);
          if (!m) {
            literalChars += part.length;
            return escapeRe(part);
          }
          const name = m[1]!;
          names.push(name);
          if (name.endsWith("_mount_path")) {
            const alts = mountAlternatives(name, underAuth);
            if (alts.length === 0) usable = false;
            return `(${alts.map(escapeRe).join("|")})`;
          }
          // Vault's `path`-like fields take the rest of the URL, slashes included.
          if (["path", "prefix", "url_lease_id"].includes(name)) return "(.+)";
          return "([^/]+)";
        })
        .join("");
      if (!usable) continue;
      const regex = new RegExp(`^${pattern}$`);
      const pathParams = (item.parameters as Json[] | undefined) ?? [];
      for (const method of ["get", "post", "delete", "patch", "put"]) {
        const op = item[method] as Json | undefined;
        if (!op) continue;
        const params = [...pathParams, ...((op.parameters as Json[] | undefined) ?? [])];
        const operationId = String(op.operationId);
        const query = new Set(params.filter((p) => p.in === "query").map((p) => String(p.name)));
        for (const q of QUERY_QUIRKS[operationId] ?? []) query.add(q);
        const entry: Operation = {
          template,
          method: method.toUpperCase(),
          operationId,
          regex,
          names,
          literalChars,
          query,
        };
        const rb = op.requestBody as Json | undefined;
        const schema = (rb?.content as Json | undefined)?.["application/json"] as Json | undefined;
        if (schema?.schema) {
          entry.body = {
            required: rb?.required === true,
            validate: ajv.compile(strictify(schema.schema) as Json),
          };
        }
        this.ops.push(entry);
      }
    }
  }

  /** The operation a request is, or a description of why the API has no such request. */
  check(
    method: string,
    path: string,
    query: URLSearchParams,
    body: unknown,
  ): { match: Match } | { violation: string } {
    const what = `${method} /v1/${path}`;
    const byPath = this.ops
      .map((op) => ({ op, m: op.regex.exec(path) }))
      .filter((x) => x.m !== null);
    if (byPath.length === 0) return { violation: `${what}: no path of the description matches` };
    const byMethod = byPath.filter((x) => x.op.method === method);
    if (byMethod.length === 0) {
      return {
        violation: `${what}: the description has no ${method} for ${byPath[0]!.op.template}`,
      };
    }
    byMethod.sort((a, b) => b.op.literalChars - a.op.literalChars);
    const { op, m } = byMethod[0]!;
    const params: Record<string, string> = {};
    op.names.forEach((n, i) => {
      params[n] = decodeURIComponent(m![i + 1]!);
    });
    for (const name of query.keys()) {
      if (!op.query.has(name)) {
        return {
          violation: `${what} (${op.operationId}): query parameter "${name}" is not described`,
        };
      }
    }
    if (body !== undefined) {
      if (op.body) {
        if (!op.body.validate(body)) {
          const errs = (op.body.validate.errors ?? [])
            .map(
              (e) =>
                `${e.instancePath || "/"} ${e.message}${e.params && "additionalProperty" in e.params ? ` (${String(e.params.additionalProperty)})` : ""}`,
            )
            .join("; ");
          return { violation: `${what} (${op.operationId}): body does not match: ${errs}` };
        }
      } else if (FREE_BODY.has(op.operationId)) {
        if (body === null || typeof body !== "object" || Array.isArray(body)) {
          return { violation: `${what} (${op.operationId}): body must be a JSON object` };
        }
      } else {
        return { violation: `${what} (${op.operationId}): the description takes no body here` };
      }
    } else if (op.body?.required) {
      return { violation: `${what} (${op.operationId}): a JSON body is required` };
    }
    return { match: { operationId: op.operationId, template: op.template, params } };
  }
}
