// What a reader of the audit log may ask for, shared by the console and `airlock audit`: kinds of
// entry, a time range, and the checks that turn user text into a query. Pure: no database here,
// so the console can use it while it still reaches the log only through the reader it is given.

/** Filters over the audit log. Every field narrows; none means every entry. */
export interface AuditQuery {
  /** An action (`release`, `console-cancel`, …) or a group from AUDIT_KINDS (`approvals`, …). */
  kind?: string;
  run?: string;
  set?: string;
  actor?: string;
  /** Entries at or after this time (ms since the epoch). */
  since?: number;
  /** Entries before this time (ms since the epoch, exclusive). */
  until?: number;
}

export interface AuditKind {
  value: string;
  label: string;
  /** The actions it stands for; a `*` suffix matches every action with that prefix. */
  actions: string[];
}

/** The kinds offered in the console's filter. Any single action name is accepted besides. */
export const AUDIT_KINDS: readonly AuditKind[] = [
  { value: "release", label: "Secret released to a job", actions: ["release"] },
  { value: "reveal", label: "Secret value revealed", actions: ["reveal"] },
  {
    value: "approvals",
    label: "Approvals",
    actions: ["approve", "approval-void", "console-approve"],
  },
  {
    value: "secret-changes",
    label: "Secret changes (set, rotate, rollback, delete, import, rekey)",
    actions: ["set", "rotate", "rollback", "delete", "import", "rekey"],
  },
  {
    value: "tokens",
    label: "Admin tokens (created, revoked)",
    actions: ["token-create", "token-revoke"],
  },
  { value: "sign-in", label: "Console sign-ins", actions: ["sign-in"] },
  {
    value: "oidc",
    label: "ID tokens issued, OIDC keys rotated or revoked",
    actions: ["id-token", "oidc-*"],
  },
  { value: "console", label: "Console actions (approve, cancel, re-run)", actions: ["console-*"] },
];

const ACTION = /^[a-z][a-z0-9-]{0,63}$/;

/** The actions a `kind` stands for, or undefined when it is no kind and no action name. */
export function actionsOf(kind: string): string[] | undefined {
  const group = AUDIT_KINDS.find((k) => k.value === kind);
  if (group) return group.actions;
  return ACTION.test(kind) ? [kind] : undefined;
}

/** A bad filter value: `param` is the name the user gave it (query parameter or CLI option). */
export class AuditQueryError extends Error {
  constructor(
    readonly param: string,
    message: string,
  ) {
    super(`${param}: ${message}`);
  }
}

// 2024-05-01, 2024-05-01T13:45, 2024-05-01 13:45:12 (as the console and CLI print times), with an
// optional trailing Z. Times are UTC, as everywhere Airlock prints them.
const TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?Z?$/;

/**
 * The instant a UTC date or time names. With `edge: "end"`, the first instant after it, to its
 * own precision: `until=2024-05-01` keeps all of that day, `until=…T13:45` all of that minute.
 */
export function parseAuditTime(text: string, edge: "start" | "end"): number | undefined {
  const m = TIME.exec(text.trim());
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => (x === undefined ? undefined : Number(x)));
  const ms = Date.UTC(y!, mo! - 1, d!, h ?? 0, mi ?? 0, s ?? 0);
  const back = new Date(ms);
  // Date.UTC rolls 2024-02-30 over into March; a date that does not exist is refused instead.
  if (
    back.getUTCFullYear() !== y ||
    back.getUTCMonth() !== mo! - 1 ||
    back.getUTCDate() !== d ||
    (h ?? 0) > 23 ||
    (mi ?? 0) > 59 ||
    (s ?? 0) > 59
  ) {
    return undefined;
  }
  if (edge === "start") return ms;
  const unit = s !== undefined ? 1000 : h !== undefined ? 60_000 : 86_400_000;
  return ms + unit;
}

const TEXT_MAX = 200;

function text(param: string, v: string | undefined): string | undefined {
  if (v === undefined || v === "") return undefined;
  if (v.length > TEXT_MAX) throw new AuditQueryError(param, `at most ${TEXT_MAX} characters`);
  if (/[\u0000-\u001f\u007f]/.test(v)) throw new AuditQueryError(param, "control characters");
  return v;
}

/** Raw filter values by their user-facing names (query parameters or CLI options). */
export interface AuditQueryInput {
  kind?: string;
  run?: string;
  set?: string;
  actor?: string;
  since?: string;
  until?: string;
}

/** Checks user-given filters; throws AuditQueryError naming the first bad one. */
export function parseAuditQuery(
  input: AuditQueryInput,
  names: Partial<Record<keyof AuditQueryInput, string>> = {},
): AuditQuery {
  const name = (k: keyof AuditQueryInput) => names[k] ?? k;
  const q: AuditQuery = {};
  const kind = text(name("kind"), input.kind);
  if (kind !== undefined) {
    if (!actionsOf(kind)) {
      throw new AuditQueryError(
        name("kind"),
        `"${kind}" is not a kind of entry; use an action name (release, reveal, …) or one of ${AUDIT_KINDS.map((k) => k.value).join(", ")}`,
      );
    }
    q.kind = kind;
  }
  for (const k of ["run", "set", "actor"] as const) {
    const v = text(name(k), input[k]);
    if (v !== undefined) q[k] = v;
  }
  for (const [k, edge] of [
    ["since", "start"],
    ["until", "end"],
  ] as const) {
    const v = text(name(k), input[k]);
    if (v === undefined) continue;
    const t = parseAuditTime(v, edge);
    if (t === undefined) {
      throw new AuditQueryError(
        name(k),
        `"${v}" is not a UTC date or time (2024-05-01, 2024-05-01T13:45 or 2024-05-01 13:45:12)`,
      );
    }
    q[k] = t;
  }
  if (q.since !== undefined && q.until !== undefined && q.since >= q.until) {
    throw new AuditQueryError(name("until"), `must come after ${name("since")}`);
  }
  return q;
}

/** A cursor: an entry's sequence number (0 stands before the first entry). */
export function parseAuditCursor(param: string, v: string | undefined): number | undefined {
  if (v === undefined || v === "") return undefined;
  if (!/^\d{1,15}$/.test(v)) {
    throw new AuditQueryError(param, `"${v.slice(0, 40)}" is not an entry number`);
  }
  return Number(v);
}
