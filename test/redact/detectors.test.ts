// Known token formats are masked for every job, registered or not, and ordinary text is not.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { detectTokens, TOKEN_KINDS } from "../../src/redact/detectors.js";
import { createRedactor } from "../../src/redact/redactor.js";
import { oneByteChunks, through } from "./helpers.js";

const r = createRedactor({ secrets: [] });

const PEM = [
  "-----BEGIN RSA PRIVATE KEY-----",
  "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgwMbRvI0MBZhpI",
  "Proc-Type: 4,ENCRYPTED",
  "",
  "q2Rb3f6LUJt+N0xn2w5hM1oO1k7Vw9Qx1s3WcYGkq0F4m4aYbFf1cK2sJ0Nw==",
  "-----END RSA PRIVATE KEY-----",
].join("\n");

const cases: [string, string, string][] = [
  ["aws-access-key-id", "AKIAIOSFODNN7EXAMPLE", "key id AKIAIOSFODNN7EXAMPLE in use"],
  ["aws-access-key-id", "ASIAY34FZKBOKMUTVV7A", "AWS_ACCESS_KEY_ID=ASIAY34FZKBOKMUTVV7A"],
  [
    "github-token",
    "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "token ghp_16C7e42F292c6912E7710c838347Ae178B4a.",
  ],
  [
    "github-token",
    "gho_16C7e42F292c6912E7710c838347Ae178B4a",
    "x gho_16C7e42F292c6912E7710c838347Ae178B4a",
  ],
  [
    "github-token",
    "ghs_16C7e42F292c6912E7710c838347Ae178B4a",
    "(ghs_16C7e42F292c6912E7710c838347Ae178B4a)",
  ],
  [
    "github-token",
    "ghu_16C7e42F292c6912E7710c838347Ae178B4a",
    "ghu_16C7e42F292c6912E7710c838347Ae178B4a",
  ],
  [
    "github-token",
    "ghr_16C7e42F292c6912E7710c838347Ae178B4a",
    "'ghr_16C7e42F292c6912E7710c838347Ae178B4a'",
  ],
  [
    "github-token",
    "github_pat_11ABCDEFG0123456789abc_0123456789abcdefghijABCDEFGHIJ0123456789abcdefghijKLMNO",
    "pat=github_pat_11ABCDEFG0123456789abc_0123456789abcdefghijABCDEFGHIJ0123456789abcdefghijKLMNO end",
  ],
  ["gitlab-token", "glpat-xXx1234567890abcdEFGH", "PRIVATE-TOKEN: glpat-xXx1234567890abcdEFGH"],
  [
    "slack-token",
    "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp",
    "SLACK=xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp",
  ],
  [
    "jwt",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
  ],
  [
    "google-api-key",
    "AIzaSyA1234567890abcdefghijklmnopqrstuv",
    "key=AIzaSyA1234567890abcdefghijklmnopqrstuv&q=1",
  ],
  ["stripe-key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "STRIPE=sk_live_4eC39HqLyjWDarjtT1zdp7dc"],
  ["stripe-key", "rk_live_4eC39HqLyjWDarjtT1zdp7dc", "rk_live_4eC39HqLyjWDarjtT1zdp7dc"],
  ["private-key", PEM, `key:\n${PEM}\ndone`],
  ["private-key", JSON.stringify(PEM).slice(1, -1), `{"key":${JSON.stringify(PEM)}}`],
];

describe("detectors", () => {
  for (const [kind, token, text] of cases) {
    it(`masks a ${kind} (${token.slice(0, 12)}…)`, async () => {
      const out = r.redact(text);
      assert.ok(!out.includes(token), out);
      assert.ok(out.includes(`[redacted:${kind}]`), out);
      assert.equal(out, text.replace(token, `[redacted:${kind}]`));
      const streamed = (await through(r.stream(), oneByteChunks(Buffer.from(text)))).toString();
      assert.equal(streamed, out);
    });
  }

  it("leaves look-alikes inside longer words and short prefixes alone", () => {
    for (const text of [
      "XAKIAIOSFODNN7EXAMPLE",
      "AKIAIOSFODNN7EXAMPLEX",
      "AKIA is an access key prefix",
      "the ghp_ prefix",
      "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
      "eyJhbGciOiJIUzI1NiJ9 alone",
      "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
      "AIza too short",
    ]) {
      assert.equal(r.redact(text), text);
    }
  });

  it("masks a private key block written line by line, and a truncated one", async () => {
    const lines = `${PEM}\nafter\n`.split(/(?<=\n)/);
    const out = (await through(r.stream(), lines)).toString();
    assert.equal(out, "[redacted:private-key]\nafter\n");
    const truncated =
      "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n";
    const t = (await through(r.stream(), oneByteChunks(Buffer.from(truncated)))).toString();
    assert.ok(!t.includes("MIIEvQ") && !t.includes("BKcwgg"), t);
  });

  it("masks a very long private key block as it streams", async () => {
    const body = Array.from(
      { length: 2000 },
      (_, i) => `QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo${i % 10}abcdefghij`,
    ).join("\n");
    const text = `-----BEGIN OPENSSH PRIVATE KEY-----\n${body}\n-----END OPENSSH PRIVATE KEY-----\nok\n`;
    const buf = Buffer.from(text);
    const chunks = [];
    for (let i = 0; i < buf.length; i += 4096) chunks.push(buf.subarray(i, i + 4096));
    const out = (await through(r.stream(), chunks)).toString();
    assert.ok(!out.includes("QUJDREVG"), out.slice(0, 200));
    assert.ok(out.endsWith("ok\n"));
  });

  it("finds by its anchors exactly what trying every position finds", () => {
    const kind = (name: string) => TOKEN_KINDS.find((k) => k.name === name)!;
    // Formats that share a search also share where the next search resumes after a find.
    const groups = [
      ["aws-access-key-id", "google-api-key"],
      ["github-token", "stripe-key"],
      ["gitlab-token"],
      ["slack-token"],
      ["jwt"],
      ["private-key"],
    ].map((names) => names.map(kind));
    const isWord = (c: number | undefined) =>
      c !== undefined && /[A-Za-z0-9_]/.test(String.fromCharCode(c));
    function reference(buf: Buffer): { spans: string[]; lastPem: number } {
      const text = buf.toString("latin1");
      const spans: string[] = [];
      let lastPem = -1;
      for (const group of groups) {
        let next = 0;
        for (let s = 0; s < text.length; s++) {
          for (const k of group) {
            // The search resumes after a find; a private key header is found by its `BEGIN`, so
            // one whose dashes are the end of the previous block's footer is still a header.
            if ((k.name === "private-key" ? s + 5 : s) < next) continue;
            if (!k.triggers.some((t) => text.startsWith(t, s))) continue;
            if (k.name === "private-key") lastPem = s;
            else if (s > 0 && isWord(buf[s - 1])) continue;
            k.body.lastIndex = 0;
            const m = k.body.exec(text.slice(s, s + k.max));
            if (m === null) continue;
            const end = s + m[0].length;
            if (k.after && end < text.length && k.after.test(text[end]!)) continue;
            spans.push(`${s}-${end}-${k.name}`);
            next = end;
            break;
          }
        }
      }
      return { spans: spans.sort(), lastPem };
    }
    const prefixes = [
      ..."AKIA ASIA AIza ghp_ gho_ ghs_ github_pat_ sk_live_ rk_live_ glpat- xoxb- xox eyJ I A".split(
        " ",
      ),
      "-----BEGIN RSA PRIVATE KEY-----",
      "-----BEGIN",
      "-----BEG",
      "BEGIN",
    ];
    const bodies = [
      "",
      // Bodies of the exact lengths the fixed-length formats need, and longer ones.
      "IOSFODNN7EXAMPLE",
      "SyA1234567890abcdefghijklmnopqrstuv",
      "16C7e42F292c6912E7710c838347Ae178B4a",
      "4eC39HqLyjWDarjtT1zdp7dc",
      "xXx1234567890abcdEFGH",
      "hbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
      "MIIEowIBAAKCAQEA0Z3VS5JJ",
      "abcdefghijklmnopqrstuvwxyz",
    ];
    const separators = [" ", "\n", "\\n", ".", "-", "_", "=", "x", "-----END RSA PRIVATE KEY-----"];
    const piece = fc.oneof(
      fc.tuple(fc.constantFrom(...prefixes), fc.constantFrom(...bodies)).map(([p, b]) => p + b),
      fc.constantFrom(...separators),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 24 }), (parts) => {
        const buf = Buffer.from(parts.join(""), "latin1");
        const spans: string[] = [];
        const lastPem = detectTokens(buf, (s, e, name) => spans.push(`${s}-${e}-${name}`));
        assert.deepEqual({ spans: spans.sort(), lastPem }, reference(buf));
      }),
      { numRuns: 2000 },
    );
  });
});
