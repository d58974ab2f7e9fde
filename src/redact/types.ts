// The redaction seam: every byte a job emits passes through a Redactor before it is
// stored, streamed or reported (DESIGN.md invariant 4).
import type { Transform } from "node:stream";

export interface RegisteredSecret {
  /** Shown in the replacement: `[redacted:NAME]`. Never the value. */
  name: string;
  value: string;
}

export interface Redactor {
  /** Redacts a complete text (a report, a summary, an error message). */
  redact(text: string): string;
  /** A streaming transform for live output; holds back only an open partial match. */
  stream(): Transform;
  /**
   * Masks more values from now on, in every stream already made too: for values the job
   * receives while it runs (fresh ID tokens), registered before the job holds them.
   */
  register(secrets: RegisteredSecret[]): void;
}
