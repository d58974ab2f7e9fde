// Shared by the gateway tests: a real gateway on loopback with a temporary data directory, and a
// client that signs deliveries the way GitHub does.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import examplesModule from "@octokit/webhooks-examples" with { type: "json" };
import { sign } from "@octokit/webhooks-methods";
import { type RunningGateway, startGateway } from "../../src/cli/commands/serve.js";
import type { EventHandler } from "../../src/gateway/events.js";
import type { GatewayEvent } from "../../src/gateway/parse-event.js";
import type { HttpTimeouts } from "../../src/gateway/serve-settings.js";

export const SECRET = "it's a secret to everybody";

export interface TestGateway extends RunningGateway {
  handled: { event: GatewayEvent; deliveryId: string }[];
  dir: string;
  stop(): Promise<void>;
}

export async function testGateway(
  opts: {
    secrets?: string[];
    handler?: EventHandler;
    maxAttempts?: number;
    timeouts?: HttpTimeouts;
  } = {},
): Promise<TestGateway> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "airlock-gw-"));
  const handled: TestGateway["handled"] = [];
  const gw = await startGateway({
    webhookSecrets: opts.secrets ?? [SECRET],
    dataDir: dir,
    listen: { host: "127.0.0.1", port: 0 },
    maxAttempts: opts.maxAttempts ?? 3,
    backoffMs: () => 5,
    ...(opts.timeouts ? { timeouts: opts.timeouts } : {}),
    handler:
      opts.handler ??
      (async (event, ctx) => {
        handled.push({ event, deliveryId: ctx.deliveryId });
      }),
  });
  return Object.assign(gw, {
    handled,
    dir,
    async stop() {
      await gw.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

export interface Delivery {
  event: string;
  payload: unknown;
  id?: string;
  secret?: string | null;
  /** Send the body as GitHub's form encoding (payload=...). */
  form?: boolean;
  rawBody?: string;
  headers?: Record<string, string>;
}

export async function deliver(
  url: string,
  d: Delivery,
): Promise<{ status: number; body: string; id: string }> {
  const id = d.id ?? randomUUID();
  const json = d.rawBody ?? JSON.stringify(d.payload);
  const body = d.form ? `payload=${encodeURIComponent(json)}` : json;
  const headers: Record<string, string> = {
    "content-type": d.form ? "application/x-www-form-urlencoded" : "application/json",
    "x-github-event": d.event,
    "x-github-delivery": id,
    "user-agent": "GitHub-Hookshot/test",
    ...d.headers,
  };
  const secret = d.secret === undefined ? SECRET : d.secret;
  if (secret !== null) headers["x-hub-signature-256"] = await sign(secret, body);
  const res = await fetch(`${url}/webhooks/github`, { method: "POST", headers, body });
  return { status: res.status, body: await res.text(), id };
}

// biome-ignore lint/suspicious/noExplicitAny: GitHub's example payloads, edited freely by tests
export type Payload = Record<string, any>;

/** The examples GitHub published for one event (the package's typings do not match its JSON). */
export function examplesOf(name: string): Payload[] {
  const defs = examplesModule as unknown as { name: string; examples: Payload[] }[];
  const def = defs.find((d) => d.name === name);
  if (!def) throw new Error(`no examples for ${name}`);
  return def.examples;
}

/** One example by action, deep-copied so that a test may edit it. */
export function example(name: string, action?: string): Payload {
  const e = examplesOf(name).find((x) => action === undefined || x.action === action);
  if (!e) throw new Error(`no ${name}.${action} example`);
  return structuredClone(e);
}
