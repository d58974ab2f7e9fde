// One log line as the HTML the log view shows, the same for a page and for the live stream:
// a line-number link, the text with colours, and group markers (`::group::name`, `##[group]name`)
// turned into a toggle the page script uses to fold the section; the time the line was written,
// hidden unless the log view shows timestamps.
import { stripAnsi } from "../../store/log-text.js";
import { ansiToHtml } from "./ansi.js";
import { escapeHtml } from "./html.js";
import type { LogLine } from "./log-reader.js";

const GROUP_START = /^\s*(?:::group::|##\[group\])(.*)$/;
const GROUP_END = /^\s*(?:::endgroup::|##\[endgroup\])\s*$/;

/** When the line was written (UTC, to the millisecond), shown when timestamps are on. */
function stamp(at: number | undefined): string {
  if (at === undefined) return "";
  const iso = new Date(at).toISOString();
  return `<time class="ts" datetime="${iso}">${iso.slice(11, 23)}</time>`;
}

export function lineHtml(l: LogLine, at?: number): string {
  const plain = stripAnsi(l.text);
  const num = `<a class="n" href="#L${l.n}" aria-label="Line ${l.n}">${l.n}</a>${stamp(at)}`;
  const cut = l.cut ? ' <span class="cut">(line cut: download the log to see it whole)</span>' : "";
  const start = GROUP_START.exec(plain);
  if (start) {
    return `<div class="l grp" id="L${l.n}" data-group="start">${num}<button type="button" class="tog" aria-expanded="true" aria-label="Fold section">▾</button><span class="t gt">${escapeHtml(start[1] ?? "")}</span>${cut}</div>`;
  }
  if (GROUP_END.test(plain)) {
    return `<div class="l ge" id="L${l.n}" data-group="end">${num}<span class="t"></span></div>`;
  }
  return `<div class="l" id="L${l.n}">${num}<span class="t">${ansiToHtml(l.text)}</span>${cut}</div>`;
}
