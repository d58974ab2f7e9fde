// The private console (runs, run pages, logs, live streams, actions, secrets, audit) and the
// public run summary. Private routes sit behind Auth.guard; the public one reads only the
// summary columns (DESIGN.md invariant 5). Each page's routes live in their own module.
import formbody from "@fastify/formbody";
import type { FastifyInstance } from "fastify";
import { actionRoutes } from "./action-routes.js";
import { adminRoutes } from "./admin-routes.js";
import { CONSOLE_CSS, CONSOLE_JS } from "./assets.js";
import { securityHeadersHook } from "./headers.js";
import { ASSET_BASE } from "./html.js";
import { logRoutes } from "./log-routes.js";
import { publicRoutes } from "./public-routes.js";
import { routeContext } from "./route-kit.js";
import { runRoutes } from "./run-routes.js";
import type { ConsoleOptions } from "./types.js";

/** Registers the console. `opts.auth` is what registerAuth answered. */
export async function registerConsole(app: FastifyInstance, opts: ConsoleOptions): Promise<void> {
  await app.register(async (scope) => {
    await scope.register(formbody, { bodyLimit: 16_384 });
    scope.addHook("onRequest", securityHeadersHook);

    // --- assets (public: they hold no data) ---------------------------------------------------
    scope.get(`${ASSET_BASE}/console.js`, async (_req, reply) =>
      reply
        .type("text/javascript; charset=utf-8")
        .header("cache-control", "max-age=300")
        .send(CONSOLE_JS),
    );
    scope.get(`${ASSET_BASE}/console.css`, async (_req, reply) =>
      reply
        .type("text/css; charset=utf-8")
        .header("cache-control", "max-age=300")
        .send(CONSOLE_CSS),
    );
    scope.get("/favicon.ico", async (_req, reply) => reply.code(204).send());
    scope.get("/", async (_req, reply) => reply.redirect("/runs", 303));

    const ctx = routeContext(scope, opts);
    runRoutes(ctx);
    logRoutes(ctx);
    actionRoutes(ctx);
    adminRoutes(ctx);
    publicRoutes(ctx);
  });
}
