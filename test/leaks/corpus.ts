// biome-ignore-all lint/suspicious/noTemplateCurlyInString: shell scripts expand ${VAR} themselves
// The leak corpus: ways a job prints a secret by accident, each one a job of a real pipeline.
// Scripts read secrets from the environment (or the secret file) exactly as real jobs do.
import { generateKeyPairSync, randomBytes } from "node:crypto";

export interface LeakCase {
  /** The job id. */
  name: string;
  run: string;
  /** What the redaction marker in the job's output (or test results) must name. */
  masked: RegExp;
  /** Where the masked secret shows: the job's log (default), its JUnit-derived results, or its error. */
  maskedIn?: "log" | "tests" | "error";
  /** The job's end state (default "passed"). */
  state?: string;
  reports?: string[];
}

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
export function randomFrom(alphabet: string, n: number): string {
  return [...randomBytes(n)].map((b) => alphabet[b % alphabet.length]).join("");
}

export interface CorpusSecrets {
  /** A password with every character the text encodings treat specially. */
  DB_PASSWORD: string;
  API_TOKEN: string;
  AWS_SECRET_ACCESS_KEY: string;
  /** A multi-line private key. */
  SSH_KEY: string;
  /** Delivered as a file ($AIRLOCK_SECRETS_DIR/KUBE_TOKEN), not as a variable. */
  KUBE_TOKEN: string;
}

export function corpusSecrets(): CorpusSecrets {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 1024 });
  return {
    DB_PASSWORD: `Pa55 w0rd/"q'<&>$x\\y-${randomFrom(ALNUM, 8)}`,
    API_TOKEN: `at_${randomFrom(ALNUM, 29)}`,
    AWS_SECRET_ACCESS_KEY: randomFrom(`${ALNUM}/+`, 40),
    SSH_KEY: privateKey.export({ type: "pkcs8", format: "pem" }).toString().trimEnd(),
    KUBE_TOKEN: `kt_${randomFrom(ALNUM, 29)}`,
  };
}

/** Helper scripts committed beside the pipeline. */
export const CORPUS_FILES: Record<string, string> = {
  "leaks/junit.mjs": `// Writes a JUnit report that carries secrets in names, messages and output.
import { mkdirSync, writeFileSync } from "node:fs";
const x = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
const e = process.env;
mkdirSync("reports", { recursive: true });
const which = process.argv[2];
const body = which === "message"
  ? \`<testcase name="db login" classname="db"><failure message="login failed for password \${x(e.DB_PASSWORD)}" type="AssertionError"/></testcase>\`
  : \`<testcase name="login with \${x(e.API_TOKEN)}" classname="auth \${x(e.API_TOKEN)}"><failure message="expected \${x(e.DB_PASSWORD)} to be rejected" type="AssertionError">\${x(e.AWS_SECRET_ACCESS_KEY)}\\n  at login.js:1</failure><system-out>\${x(e.SSH_KEY)}</system-out></testcase>
  <testcase name="skipped with \${x(e.API_TOKEN)}"><skipped message="no \${x(e.DB_PASSWORD)}"/></testcase>\`;
writeFileSync("reports/leak.xml", \`<?xml version="1.0" encoding="UTF-8"?>
<testsuites><testsuite name="api \${x(e.API_TOKEN)}">\${body}<testcase name="ok"/></testsuite></testsuites>
\`);
`,
  "leaks/slow.mjs": `// Writes a value one byte per write.
import { writeSync } from "node:fs";
for (const b of Buffer.from(process.env[process.argv[2]])) writeSync(1, Buffer.of(b));
writeSync(1, "\\n");
`,
};

const node = (code: string) => `node -e '${code}'`;

/** At least 30 accidental leaks, one restricted job each. */
export const LEAK_CASES: LeakCase[] = [
  { name: "echo", run: 'echo "connecting with password $DB_PASSWORD"', masked: /DB_PASSWORD/ },
  { name: "printf", run: "printf 'token=%s\\n' \"$API_TOKEN\"", masked: /API_TOKEN/ },
  { name: "env", run: "env | sort", masked: /API_TOKEN/ },
  {
    name: "set-x",
    run: 'deploy() { :; }\nset -x\ndeploy --token "$API_TOKEN" --password "$DB_PASSWORD"\nset +x',
    masked: /DB_PASSWORD/,
  },
  {
    name: "declare-p",
    run: "declare -p DB_PASSWORD API_TOKEN AWS_SECRET_ACCESS_KEY",
    masked: /DB_PASSWORD/,
  },
  {
    name: "json-dump-env",
    run: node("console.log(JSON.stringify(process.env))"),
    masked: /SSH_KEY/,
  },
  {
    name: "json-pretty",
    run: node(
      "console.log(JSON.stringify({ db: { password: process.env.DB_PASSWORD } }, null, 2))",
    ),
    masked: /DB_PASSWORD/,
  },
  {
    name: "url-credentials",
    run: 'echo "git clone https://ci-bot:${API_TOKEN}@git.example.com/org/repo.git"',
    masked: /API_TOKEN/,
  },
  {
    name: "url-encoded",
    run: node(
      'console.log("postgres://app:" + encodeURIComponent(process.env.DB_PASSWORD) + "@db.internal:5432/app")',
    ),
    masked: /DB_PASSWORD/,
  },
  {
    name: "url-object",
    run: node(
      'const u = new URL("postgres://db.internal:5432/app"); u.username = "app"; u.password = process.env.DB_PASSWORD; console.log("DATABASE_URL=" + u.href)',
    ),
    masked: /DB_PASSWORD/,
  },
  {
    name: "basic-auth",
    run: 'echo "Authorization: Basic $(printf \'ci-bot:%s\' "$DB_PASSWORD" | base64 -w0)"',
    masked: /DB_PASSWORD/,
  },
  {
    name: "base64",
    run: "printf '%s' \"$AWS_SECRET_ACCESS_KEY\" | base64 -w0; echo",
    masked: /AWS_SECRET_ACCESS_KEY/,
  },
  {
    // A key file put through base64 on its own wraps at 76 columns (64 for openssl's).
    name: "base64-wrapped",
    run: "printf '%s\n' \"$SSH_KEY\" | base64; printf '%s' \"$SSH_KEY\" | base64 -w 64",
    masked: /SSH_KEY/,
  },
  {
    name: "base64-offset-1",
    run: "printf 'x%s' \"$API_TOKEN\" | base64 -w0; echo",
    masked: /API_TOKEN/,
  },
  {
    name: "base64-offset-2",
    run: "printf 'xy%s' \"$API_TOKEN\" | base64 -w0; echo",
    masked: /API_TOKEN/,
  },
  {
    name: "base64url",
    run: node(
      'console.log(Buffer.from("k=" + process.env.AWS_SECRET_ACCESS_KEY).toString("base64url"))',
    ),
    masked: /AWS_SECRET_ACCESS_KEY/,
  },
  {
    name: "hex-xxd",
    run: "printf '%s' \"$API_TOKEN\" | xxd -p | tr -d '\\n'; echo",
    masked: /API_TOKEN/,
  },
  {
    name: "hex-od",
    run: "printf '%s' \"$DB_PASSWORD\" | od -An -tx1 -v | tr -d ' \\n'; echo",
    masked: /DB_PASSWORD/,
  },
  {
    name: "hex-upper",
    run: node(
      'console.log(Buffer.from(process.env.AWS_SECRET_ACCESS_KEY).toString("hex").toUpperCase())',
    ),
    masked: /AWS_SECRET_ACCESS_KEY/,
  },
  {
    name: "json-escaped",
    run: node("console.log(JSON.stringify({ password: process.env.DB_PASSWORD }))"),
    masked: /DB_PASSWORD/,
  },
  {
    name: "shell-printf-q",
    run: "printf 'export DB_PASSWORD=%q\\n' \"$DB_PASSWORD\"",
    masked: /DB_PASSWORD/,
  },
  { name: "shell-at-q", run: 'echo "export DB_PASSWORD=${DB_PASSWORD@Q}"', masked: /DB_PASSWORD/ },
  { name: "pem-whole", run: "printf '%s\\n' \"$SSH_KEY\"", masked: /SSH_KEY|private-key/ },
  {
    name: "pem-each-line",
    // Body lines one by one, without the BEGIN/END lines that would let a detector see a key.
    run: 'printf \'%s\\n\' "$SSH_KEY" | grep -v -- ----- | while IFS= read -r line; do echo "key line: $line"; done',
    masked: /SSH_KEY/,
  },
  { name: "pem-one-line", run: "echo $SSH_KEY", masked: /SSH_KEY|private-key/ },
  {
    name: "pem-crlf",
    run: "printf '%s\\n' \"$SSH_KEY\" | sed 's/$/\\r/'",
    masked: /SSH_KEY|private-key/,
  },
  {
    name: "ansi-colour",
    run: 'printf \'token: \\033[1;33m%s\\033[0m%s\\n\' "${API_TOKEN:0:12}" "${API_TOKEN:12}"',
    masked: /API_TOKEN/,
  },
  {
    name: "split-writes",
    run: "printf 'token: %s' \"${API_TOKEN:0:16}\"\nsleep 0.3\nprintf '%s\\n' \"${API_TOKEN:16}\"",
    masked: /API_TOKEN/,
  },
  {
    name: "byte-at-a-time",
    run: "node leaks/slow.mjs AWS_SECRET_ACCESS_KEY",
    masked: /AWS_SECRET_ACCESS_KEY/,
  },
  { name: "stderr", run: 'echo "warning: retrying with $API_TOKEN" >&2', masked: /API_TOKEN/ },
  {
    name: "adjacent-secrets",
    run: 'echo "${API_TOKEN}${AWS_SECRET_ACCESS_KEY}"',
    masked: /API_TOKEN|AWS_SECRET_ACCESS_KEY/,
  },
  { name: "secret-file", run: 'cat "$AIRLOCK_SECRETS_DIR/KUBE_TOKEN"; echo', masked: /KUBE_TOKEN/ },
  {
    name: "exit-error",
    run: 'echo "fatal: authentication failed for $API_TOKEN" >&2\nexit 3',
    masked: /API_TOKEN/,
    state: "failed",
  },
  {
    name: "junit-report",
    run: "node leaks/junit.mjs all",
    reports: ["reports/*.xml"],
    masked: /API_TOKEN/,
    maskedIn: "tests",
  },
  {
    name: "junit-xml-message",
    run: "node leaks/junit.mjs message",
    reports: ["reports/*.xml"],
    masked: /DB_PASSWORD/,
    maskedIn: "tests",
  },
  {
    name: "report-file-name",
    // A report named after a build parameter that happens to be a secret, and not valid XML: the
    // job is an error whose message names the (masked) file.
    run: 'mkdir -p reports\necho "not a report" > "reports/$API_TOKEN.xml"',
    reports: ["reports/*.xml"],
    state: "error",
    masked: /API_TOKEN/,
    maskedIn: "error",
  },
];

/** Well-known token formats nobody registered, printed by a public job. */
export function unregisteredTokens(): { name: string; text: string }[] {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const b64u = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return [
    { name: "github-token", text: `ghp_${randomFrom(ALNUM, 36)}` },
    { name: "github-token", text: `github_pat_${randomFrom(ALNUM, 22)}_${randomFrom(ALNUM, 59)}` },
    {
      name: "aws-access-key-id",
      text: `AKIA${randomFrom("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)}`,
    },
    { name: "gitlab-token", text: `glpat-${randomFrom(ALNUM, 20)}` },
    { name: "slack-token", text: `xoxb-${randomFrom("0123456789", 12)}-${randomFrom(ALNUM, 24)}` },
    {
      name: "jwt",
      text: `${b64u({ alg: "HS256", typ: "JWT" })}.${b64u({ sub: randomFrom(ALNUM, 12), iat: 1 })}.${randomFrom(ALNUM, 43)}`,
    },
    { name: "stripe-key", text: `sk_live_${randomFrom(ALNUM, 24)}` },
    { name: "google-api-key", text: `AIza${randomFrom(ALNUM, 35)}` },
    {
      name: "private-key",
      text: privateKey.export({ type: "pkcs8", format: "pem" }).toString().trimEnd(),
    },
  ];
}
