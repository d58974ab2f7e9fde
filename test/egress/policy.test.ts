// Allow entries and the decisions made from them: pure computation, no packet sent anywhere.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EgressPolicy } from "../../src/egress/policy.js";
import { parseAddress, parseRule } from "../../src/egress/rules.js";

const policy = (allow: string[], forbidden?: string[]) =>
  new EgressPolicy(allow, forbidden ? { forbidden } : {});
const name = (n: string) => EgressPolicy.target(n)!;
const ip = (a: string) => parseAddress(a)!;

describe("allow entries", () => {
  it("parses names, wildcards, addresses, ranges and ports", () => {
    assert.deepEqual(parseRule("Registry.NPMJS.org."), {
      kind: "name",
      name: "registry.npmjs.org",
      wildcard: false,
      port: null,
      text: "Registry.NPMJS.org.",
    });
    const w = parseRule("*.amazonaws.com:443");
    assert.equal(w.kind === "name" && w.wildcard && w.name, "amazonaws.com");
    assert.equal(w.port, 443);
    const r = parseRule("10.0.0.0/8:5432");
    assert.equal(r.kind === "range" && `${r.cidr[0]}/${r.cidr[1]}`, "10.0.0.0/8");
    assert.equal(r.port, 5432);
    const v6 = parseRule("[2001:db8::/32]:443");
    assert.equal(v6.kind === "range" && `${v6.cidr[0]}/${v6.cidr[1]}`, "2001:db8::/32");
    const bare6 = parseRule("2001:db8::1");
    assert.equal(bare6.kind === "range" && bare6.cidr[1], 128);
    assert.equal(bare6.port, null);
    const idn = parseRule("bücher.example");
    assert.equal(idn.kind === "name" && idn.name, "xn--bcher-kva.example");
  });

  it("rejects what cannot be meant, saying how to write it", () => {
    const cases: [string, RegExp][] = [
      ["*", /network: true/],
      ["", /is empty/],
      ["a.com:0", /port/],
      ["a.com:70000", /port/],
      ["a.com:http", /port/],
      ["*.com", /top-level domain/],
      ["a.*.com", /leading "\*\."/],
      ["foo bar", /neither a host name/],
      ["10.0.0.0/33", /prefix length/],
      ["example.com/8", /range/],
      ["[2001:db8::1", /without "\]"/],
      ["[10.0.0.1]:80", /brackets/],
      ["1.2.3.999", /neither/],
      ["a..b", /neither/],
    ];
    for (const [entry, why] of cases) {
      assert.throws(() => parseRule(entry), why, entry);
    }
  });
});

describe("decisions", () => {
  it("matches names exactly, wildcards strictly below their domain, ports when given", () => {
    const p = policy(["a.test:8080", "*.example.com", "api.scaleway.com:443"]);
    assert.equal(p.checkTarget(name("a.test"), 8080), null);
    assert.match(
      p.checkTarget(name("a.test"), 8081) ?? "",
      /a\.test:8081 is not in network\.allow/,
    );
    assert.notEqual(p.checkTarget(name("b.test"), 8080), null);
    assert.equal(p.checkTarget(name("s3.eu.example.com"), 1234), null);
    assert.notEqual(p.checkTarget(name("example.com"), 443), null, "the wildcard is not the apex");
    assert.notEqual(p.checkTarget(name("badexample.com"), 443), null);
    assert.equal(p.checkTarget(name("API.Scaleway.com."), 443), null);
    assert.notEqual(p.checkTarget(name("api.scaleway.com"), 80), null);
    // A DNS lookup has no port: any rule for the name answers it.
    assert.equal(p.nameAllowed("a.test", null), true);
    assert.equal(p.nameAllowed("b.test", null), false);
  });

  it("lets an address literal through only when an address rule lists it", () => {
    const p = policy(["a.test", "203.0.113.0/24:443", "[2001:db8::/32]"]);
    assert.equal(p.checkTarget({ kind: "address", address: ip("203.0.113.9") }, 443), null);
    assert.notEqual(p.checkTarget({ kind: "address", address: ip("203.0.113.9") }, 80), null);
    assert.notEqual(p.checkTarget({ kind: "address", address: ip("198.51.100.1") }, 443), null);
    assert.equal(p.checkTarget({ kind: "address", address: ip("2001:db8::7") }, 22), null);
    // A name rule never allows the address a name happens to have.
    assert.notEqual(p.checkTarget({ kind: "address", address: ip("127.0.0.1") }, 80), null);
  });

  it("forbids loopback, link-local (cloud metadata) and private addresses by default", () => {
    const p = policy(["*.example.com"]);
    for (const a of [
      "127.0.0.1",
      "127.8.9.10",
      "169.254.169.254",
      "10.1.2.3",
      "172.16.0.1",
      "192.168.1.1",
      "100.64.0.1",
      "0.0.0.0",
      "::1",
      "::",
      "fe80::1",
      "fd00::1",
      "::ffff:127.0.0.1",
      "::ffff:169.254.169.254",
      "224.0.0.1",
      "255.255.255.255",
    ]) {
      assert.notEqual(p.forbidden(ip(a), 443), null, a);
    }
    for (const a of ["93.184.216.34", "2606:2800:220:1::1", "8.8.8.8"]) {
      assert.equal(p.forbidden(ip(a), 443), null, a);
    }
    assert.equal(p.forbidden(ip("169.254.169.254"), 80), "link-local");
  });

  it("opens a forbidden address only through an address rule inside the forbidden ranges", () => {
    const p = policy(["169.254.169.254:80", "10.0.0.0/8:5432", "0.0.0.0/0", "[::/0]"]);
    assert.equal(p.forbidden(ip("169.254.169.254"), 80), null);
    assert.notEqual(p.forbidden(ip("169.254.169.254"), 443), null, "only on the listed port");
    assert.notEqual(p.forbidden(ip("169.254.1.1"), 80), null, "only the listed address");
    assert.equal(p.forbidden(ip("10.9.8.7"), 5432), null);
    assert.notEqual(p.forbidden(ip("10.9.8.7"), 22), null);
    // "Everything" is not a way to name loopback or the metadata service.
    assert.notEqual(p.forbidden(ip("127.0.0.1"), 80), null);
    assert.notEqual(p.forbidden(ip("::1"), 80), null);
    assert.notEqual(p.forbidden(ip("::ffff:169.254.169.254"), 443), null);
    // A DNS answer (no port) may include an address some rule opens on some port.
    assert.equal(p.forbidden(ip("10.9.8.7"), null), null);
  });

  it("takes other forbidden ranges when told (tests use loopback addresses of their own)", () => {
    const p = policy(["a.test"], ["127.0.0.64/26"]);
    assert.equal(p.forbidden(ip("127.0.0.2"), 80), null);
    assert.notEqual(p.forbidden(ip("127.0.0.66"), 80), null);
  });

  it("reads host names and address literals the way a resolver would not be fooled by", () => {
    assert.deepEqual(EgressPolicy.target("A.Test."), { kind: "name", name: "a.test" });
    assert.equal(EgressPolicy.target("[::1]")?.kind, "address");
    assert.equal(EgressPolicy.target("::ffff:10.0.0.1")?.kind, "address");
    // Numeric forms a resolver would turn into an address are not names.
    assert.equal(EgressPolicy.target("2130706433"), null);
    assert.equal(EgressPolicy.target("0x7f.1"), null);
    assert.equal(EgressPolicy.target("a b"), null);
    assert.equal(EgressPolicy.target(""), null);
  });
});
