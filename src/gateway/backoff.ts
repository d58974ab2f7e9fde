// The pause of a loop whose store failed (a read-only or full disk, an I/O error): it backs off,
// doubling from `firstMs` up to `maxMs`, and resumes at full speed after its next success. No
// storage error ends a loop, or the process (DESIGN.md invariant 11).
export class StoreBackoff {
  private failures = 0;

  constructor(
    private readonly firstMs = 100,
    private readonly maxMs = 30_000,
  ) {}

  /** Records a failure; returns how long to pause before trying again. */
  failed(): number {
    this.failures++;
    return Math.min(this.maxMs, this.firstMs * 2 ** (this.failures - 1));
  }

  succeeded(): void {
    this.failures = 0;
  }

  /** Failures in a row so far (0: the store answers). */
  get streak(): number {
    return this.failures;
  }
}
