// A local stand-in for a cloud provider's API: requests must be signed with the provider's
// credentials (HMAC-SHA256), resources live in memory, and quotas are enforced.
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";

export const CREDENTIALS = {
  aws: ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
  digitalocean: ["DIGITALOCEAN_TOKEN", "DIGITALOCEAN_TOKEN"],
  scaleway: ["SCALEWAY_ACCESS_KEY", "SCALEWAY_SECRET_KEY"],
};

export function sign(secret, method, path, body) {
  return createHmac("sha256", secret).update(`${method}\n${path}\n${body}`).digest("hex");
}

export function startCloud({ keyId, secret, quota = 20 }) {
  const resources = new Map();
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const send = (status, obj) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(obj));
      };
      const want = Buffer.from(sign(secret, req.method, req.url, body));
      const got = Buffer.from(String(req.headers["x-signature"] ?? ""));
      if (
        req.headers["x-key-id"] !== keyId ||
        got.length !== want.length ||
        !timingSafeEqual(got, want)
      )
        return send(401, { error: "signature does not match" });
      const name = decodeURIComponent(req.url.replace(/^\/resources\/?/, ""));
      if (req.method === "GET" && name === "") return send(200, [...resources.values()]);
      if (req.method === "PUT") {
        if (!resources.has(name) && resources.size >= quota)
          return send(429, { error: "quota exceeded" });
        resources.set(name, { name, spec: JSON.parse(body || "{}") });
        return send(200, resources.get(name));
      }
      if (req.method === "DELETE") {
        if (!resources.delete(name)) return send(404, { error: `no resource ${name}` });
        return send(204, {});
      }
      send(405, { error: "method not allowed" });
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

export function client(base, keyId, secret) {
  const call = async (method, path, body = "") => {
    const res = await fetch(base + path, {
      method,
      body: body || undefined,
      headers: { "x-key-id": keyId, "x-signature": sign(secret, method, path, body) },
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${(await res.json()).error}`);
    return res.status === 204 ? null : res.json();
  };
  return {
    list: () => call("GET", "/resources"),
    create: (name, spec) =>
      call("PUT", `/resources/${encodeURIComponent(name)}`, JSON.stringify(spec)),
    update: (name, spec) =>
      call("PUT", `/resources/${encodeURIComponent(name)}`, JSON.stringify(spec)),
    delete: (name) => call("DELETE", `/resources/${encodeURIComponent(name)}`),
  };
}
