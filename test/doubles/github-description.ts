// GitHub's published REST description, as the GitHub double checks requests against it: loaded
// once per process, validators compiled lazily per operation.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";

// ajv-formats is CommonJS; its default export arrives wrapped under ESM.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as (ajv: Ajv) => void;

const DESCRIPTION = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../../shared/oracles/github/api.github.com.json",
);

interface Parameter {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  required?: boolean;
  schema?: Record<string, unknown>;
  "x-multi-segment"?: boolean;
}

export interface Operation {
  operationId: string;
  method: string;
  template: string;
  regex: RegExp;
  paramNames: string[];
  literalLength: number;
  parameters: Parameter[];
  bodySchema: Record<string, unknown> | null;
  bodyRequired: boolean;
  /** The JSON schema of each response status. */
  responses: Record<string, unknown>;
  validators?: { body: ValidateFunction | null; params: Map<string, ValidateFunction> };
}

export interface Description {
  operations: Operation[];
  ajv: Ajv;
}

let description: Description | null = null;

function resolveLocal(doc: Record<string, unknown>, ref: string): unknown {
  return ref
    .slice(2)
    .split("/")
    .reduce<unknown>(
      (o, k) => (o as Record<string, unknown>)[k.replace(/~1/g, "/").replace(/~0/g, "~")],
      doc,
    );
}

/** Rewrites `#/components/...` refs so they resolve inside the schema registered as "gh". */
function rebase(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rebase);
  if (schema && typeof schema === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(schema)) {
      out[k] = k === "$ref" && typeof v === "string" && v.startsWith("#/") ? `gh${v}` : rebase(v);
    }
    return out;
  }
  return schema;
}

/**
 * OpenAPI's `nullable: true` beside `oneOf`/`allOf` and no `type` (GitHub's response schemas use
 * it), which Ajv refuses, as the JSON Schema it means: null, or the schema.
 */
function openApiNullable(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(openApiNullable);
  if (!schema || typeof schema !== "object") return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) out[k] = openApiNullable(v);
  if (out.nullable === true && out.type === undefined) {
    const { nullable: _, ...rest } = out;
    return { anyOf: [{ type: "null" }, rest] };
  }
  return out;
}

export function loadDescription(): Description {
  if (description) return description;
  const doc = JSON.parse(readFileSync(DESCRIPTION, "utf8")) as {
    paths: Record<string, Record<string, unknown>>;
    components: Record<string, unknown>;
  };
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false, logger: false });
  addFormats(ajv);
  ajv.addSchema({ components: openApiNullable(doc.components) }, "gh");
  const operations: Operation[] = [];
  for (const [template, item] of Object.entries(doc.paths)) {
    const shared = (item.parameters as Parameter[] | undefined) ?? [];
    for (const [method, raw] of Object.entries(item)) {
      if (!["get", "post", "put", "patch", "delete", "head"].includes(method)) continue;
      const op = raw as {
        operationId: string;
        parameters?: ({ $ref: string } | Parameter)[];
        requestBody?: { required?: boolean; content?: Record<string, { schema?: unknown }> };
        responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
      };
      const parameters = [...shared, ...(op.parameters ?? [])].map((p) =>
        "$ref" in p ? (resolveLocal(doc, p.$ref) as Parameter) : p,
      );
      const paramNames: string[] = [];
      const pattern = template
        .replace(/[.*+?^$()|[\]\\]/g, "\\$&")
        .replace(/\{([^}]+)\}/g, (_m, name: string) => {
          paramNames.push(name);
          const multi = parameters.find((p) => p.name === name && p.in === "path")?.[
            "x-multi-segment"
          ];
          return multi ? "(.+)" : "([^/]+)";
        });
      const json = op.requestBody?.content?.["application/json"];
      operations.push({
        operationId: op.operationId,
        method: method.toUpperCase(),
        template,
        regex: new RegExp(`^${pattern}$`),
        paramNames,
        literalLength: template.replace(/\{[^}]+\}/g, "").length,
        parameters,
        bodySchema: (json?.schema as Record<string, unknown> | undefined) ?? null,
        bodyRequired: op.requestBody?.required ?? false,
        responses: Object.fromEntries(
          Object.entries(op.responses ?? {}).flatMap(([code, r]) => {
            const schema = r.content?.["application/json"]?.schema;
            return schema ? [[code, schema]] : [];
          }),
        ),
      });
    }
  }
  // The most specific template wins: /check-runs/{id}/annotations before /check-runs/{id}.
  operations.sort((a, b) => b.literalLength - a.literalLength);
  description = { operations, ajv };
  return description;
}

export function validatorsOf(d: Description, op: Operation): NonNullable<Operation["validators"]> {
  if (!op.validators) {
    const params = new Map<string, ValidateFunction>();
    for (const p of op.parameters) {
      if (p.schema && (p.in === "path" || p.in === "query")) {
        params.set(`${p.in}:${p.name}`, d.ajv.compile(rebase(p.schema) as object));
      }
    }
    op.validators = {
      body: op.bodySchema ? d.ajv.compile(rebase(op.bodySchema) as object) : null,
      params,
    };
  }
  return op.validators;
}

/** Path and query strings arrive as text; the description types them. */
export function coerce(value: string, schema: Record<string, unknown> | undefined): unknown {
  const type = schema?.type;
  if ((type === "integer" || type === "number") && /^-?\d+(\.\d+)?$/.test(value))
    return Number(value);
  if (type === "boolean" && (value === "true" || value === "false")) return value === "true";
  if (type === "array") return value.split(",");
  return value;
}

/**
 * What is wrong with a response body the double sends, against the description's schema for that
 * operation ("GET /repos/{owner}/{repo}/compare/{basehead}") and status: [] when nothing is.
 */
export function responseProblems(operation: string, status: number, body: unknown): string[] {
  const d = loadDescription();
  const op = d.operations.find((o) => `${o.method} ${o.template}` === operation);
  const schema = op?.responses[String(status)];
  if (!schema) return [`no ${status} response of ${operation} in the description`];
  const validate = d.ajv.compile(rebase(schema) as object);
  return validate(body) ? [] : [d.ajv.errorsText(validate.errors)];
}
