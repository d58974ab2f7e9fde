// What the Kubernetes double checks requests against, taken from @kubernetes/client-node itself:
// the paths, methods and query parameters of the API classes it generates from Kubernetes'
// OpenAPI description, and the models it generates for request bodies (an unknown field or a
// wrong type is an error, as the API server's strict field validation makes it).
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import * as k8s from "@kubernetes/client-node";

export interface ApiRoute {
  /** The generated method, e.g. BatchV1Api.createNamespacedJob. */
  operation: string;
  method: string;
  template: string;
  pattern: RegExp;
  params: string[];
  query: Set<string>;
  /** The model the body must match, when the operation takes one. */
  bodyType?: string;
}

/** Every operation of the generated API classes. */
export function loadRoutes(): ApiRoute[] {
  const require = createRequire(import.meta.url);
  const main = require.resolve("@kubernetes/client-node");
  const dir = path.join(path.dirname(main), "gen", "apis");
  const routes: ApiRoute[] = [];
  for (const file of readdirSync(dir).filter((f) => /Api\.js$/.test(f))) {
    const src = readFileSync(path.join(dir, file), "utf8");
    const cls = file.replace(/\.js$/, "");
    // Each request factory method: its name, path, method, query parameters and body type.
    const methods = src.split(/\n {4}async (?=\w+\()/).slice(1);
    for (const m of methods) {
      const name = /^(\w+)\(/.exec(m)?.[1];
      const p = /const localVarPath = '([^']+)'/.exec(m)?.[1];
      const verb = /makeRequestContext\(localVarPath, HttpMethod\.(\w+)\)/.exec(m)?.[1];
      if (!name || !p || !verb || name.endsWith("WithHttpInfo")) continue;
      const query = new Set([...m.matchAll(/setQueryParam\("([^"]+)"/g)].map((q) => q[1]!));
      const bodyType = /ObjectSerializer\.serialize\(body, "([^"]+)"/.exec(m)?.[1];
      const params = [...p.matchAll(/\{(\w+)\}/g)].map((x) => x[1]!);
      const pattern = new RegExp(
        `^${p.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\\?\{\w+\\?\}/g, "([^/]+)")}$`,
      );
      routes.push({
        operation: `${cls}.${name}`,
        method: verb,
        template: p,
        pattern,
        params,
        query,
        ...(bodyType ? { bodyType } : {}),
      });
    }
  }
  return routes;
}

/**
 * The most specific route matching (fewest path parameters: the typed networking.k8s.io path,
 * not the generic custom-objects one), with its path parameters.
 */
export function matchRoute(
  routes: ApiRoute[],
  method: string,
  pathname: string,
): { route: ApiRoute; params: Record<string, string> } | null {
  for (const route of [...routes].sort((a, b) => a.params.length - b.params.length)) {
    if (route.method !== method) continue;
    const m = route.pattern.exec(pathname);
    if (!m) continue;
    const params: Record<string, string> = {};
    route.params.forEach((n, i) => {
      params[n] = decodeURIComponent(m[i + 1]!);
    });
    return { route, params };
  }
  return null;
}

type AttributeMap = { name: string; baseName: string; type: string; format: string }[];

function attributes(type: string): AttributeMap | undefined {
  const model = (k8s as unknown as Record<string, { getAttributeTypeMap?: () => AttributeMap }>)[
    type
  ];
  return model?.getAttributeTypeMap?.();
}

/** Problems of `value` as a `type` of the generated models; empty when it matches. */
export function validateModel(value: unknown, type: string, at = "body", format = ""): string[] {
  if (value === null || value === undefined) return [];
  const fail = (what: string) => [
    `${at}: expected ${what}, got ${JSON.stringify(value)?.slice(0, 60)}`,
  ];
  if (type === "any" || type === "object") return [];
  if (type === "string") return typeof value === "string" ? [] : fail("a string");
  if (type === "boolean") return typeof value === "boolean" ? [] : fail("a boolean");
  if (type === "number") {
    if (typeof value !== "number") return fail("a number");
    return /int/.test(format) && !Number.isInteger(value) ? fail("an integer") : [];
  }
  if (type === "Date") {
    return typeof value === "string" && !Number.isNaN(Date.parse(value)) ? [] : fail("a date");
  }
  if (type === "IntOrString") {
    return typeof value === "string" || Number.isInteger(value) ? [] : fail("an int or a string");
  }
  const arr = /^Array<(.+)>$/.exec(type);
  if (arr) {
    if (!Array.isArray(value)) return fail("an array");
    return value.flatMap((v, i) => validateModel(v, arr[1]!, `${at}[${i}]`, format));
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value !== "object" || Array.isArray(value)) return fail("an object");
    return Object.entries(value as object).flatMap(([k, v]) =>
      validateModel(v, map[1]!, `${at}.${k}`, format),
    );
  }
  const attrs = attributes(type);
  if (!attrs) return [`${at}: the model ${type} is unknown to the client`];
  if (typeof value !== "object" || Array.isArray(value)) return fail(`a ${type} object`);
  const out: string[] = [];
  for (const [k, v] of Object.entries(value as object)) {
    const a = attrs.find((x) => x.baseName === k);
    if (!a) out.push(`${at}.${k}: unknown field of ${type}`);
    else out.push(...validateModel(v, a.type, `${at}.${k}`, a.format));
  }
  return out;
}
