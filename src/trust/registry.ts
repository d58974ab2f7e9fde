// Trust answers per App installation, shared by the gateway's flow and the console, so that a
// membership change GitHub reports (organization, membership, member and team events) makes both
// forget every cached answer at once; the TTL only bounds staleness when such an event is lost.
import type { Forge } from "../forge/types.js";
import { TrustEvaluator, type TrustOptions } from "./rules.js";

export class TrustRegistry {
  private readonly evaluators = new Map<number, TrustEvaluator>();

  constructor(
    private readonly forgeFor: (installationId: number) => Forge,
    private readonly opts: TrustOptions = {},
  ) {}

  /** The evaluator of one installation (created once, so its answers are shared). */
  of(installationId: number): TrustEvaluator {
    let t = this.evaluators.get(installationId);
    if (!t) {
      t = new TrustEvaluator(this.forgeFor(installationId), this.opts);
      this.evaluators.set(installationId, t);
    }
    return t;
  }

  /** Forgets every cached answer of every installation. */
  forgetAll(): void {
    for (const t of this.evaluators.values()) t.forget();
  }
}
