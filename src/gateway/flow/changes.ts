// What a commit changes, as the forge compares it with another commit (the PR's base, or the
// last approved commit). Two commits always compare the same, so answers are kept a while: the
// approval rules, the approval check and the inbox of one commit share one request.
import { type Comparison, type Forge, repoRef } from "../../forge/types.js";
import { TtlCache } from "../../trust/cache.js";

export class Comparisons {
  private readonly cache = new TtlCache<Promise<Comparison>>(3600_000, Date.now, 2_000);

  constructor(private readonly forge: (installationId: number) => Forge) {}

  get(repo: string, installationId: number, base: string, head: string): Promise<Comparison> {
    const key = `${repo}@${base}...${head}`;
    let c = this.cache.get(key);
    if (!c) {
      c = this.forge(installationId).compare(repoRef(repo), base, head);
      this.cache.set(key, c);
      // A failed answer is asked again next time.
      c.catch(() => this.cache.delete(key));
    }
    return c;
  }
}
