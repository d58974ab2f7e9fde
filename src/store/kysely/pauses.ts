// Pauses shared by every gateway on the database (see PauseRepo).
import { sql } from "kysely";
import type { PauseRepo } from "../types.js";
import type { Ctx } from "./context.js";

export class PauseRepoImpl implements PauseRepo {
  constructor(private readonly c: Ctx) {}

  async extend(name: string, until: number, reason: string, now = Date.now()): Promise<void> {
    await this.c.db
      .insertInto("pauses")
      .values({ name, until_at: until, reason, updated_at: now })
      .onConflict((oc) =>
        oc.column("name").doUpdateSet({
          until_at: sql`CASE WHEN excluded.until_at > pauses.until_at THEN excluded.until_at ELSE pauses.until_at END`,
          reason: sql`CASE WHEN excluded.until_at > pauses.until_at THEN excluded.reason ELSE pauses.reason END`,
          updated_at: now,
        }),
      )
      .execute();
  }

  async until(name: string): Promise<number> {
    const r = await this.c.db
      .selectFrom("pauses")
      .select("until_at")
      .where("name", "=", name)
      .executeTakeFirst();
    return r?.until_at ?? 0;
  }
}
