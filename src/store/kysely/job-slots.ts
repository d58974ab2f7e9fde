// Public jobs' places in the fair share, shared by every gateway on the database (JobSlotRepo).
import type { JobSlot, JobSlotRepo } from "../types.js";
import type { Ctx } from "./context.js";
import { leaseLive, takeTurns } from "./leases.js";

export class JobSlotRepoImpl implements JobSlotRepo {
  constructor(private readonly c: Ctx) {}

  take(slot: JobSlot, limits: { perPr: number; perAuthor: number }, now = Date.now()) {
    return this.c.atomic(async (db) => {
      // Two gateways counting at once could both see room for one more: they take turns.
      await takeTurns(this.c, db, "job_slots");
      // Places of runs that ended (or were taken up again under a new request) count no more.
      await db
        .deleteFrom("job_slots")
        .where(
          "run_id",
          "not in",
          db.selectFrom("run_requests").select("id").where("state", "=", "running"),
        )
        .execute();
      const held = await db
        .selectFrom("job_slots as s")
        .innerJoin("run_requests as q", "q.id", "s.run_id")
        .select(["s.run_id", "s.job_id", "s.pr_key", "s.author"])
        .where("q.state", "=", "running")
        .where(leaseLive(this.c, now, "q"))
        .where((eb) => eb.or([eb("s.pr_key", "=", slot.pr), eb("s.author", "=", slot.author)]))
        .execute();
      if (held.some((h) => h.run_id === slot.runId && h.job_id === slot.jobId)) return true;
      if (
        held.filter((h) => h.pr_key === slot.pr).length >= limits.perPr ||
        held.filter((h) => h.author === slot.author).length >= limits.perAuthor
      ) {
        return false;
      }
      await db
        .insertInto("job_slots")
        .values({
          run_id: slot.runId,
          job_id: slot.jobId,
          pr_key: slot.pr,
          author: slot.author,
          taken_at: now,
        })
        .onConflict((oc) => oc.columns(["run_id", "job_id"]).doNothing())
        .execute();
      return true;
    });
  }

  async release(runId: string, jobId: string): Promise<void> {
    await this.c.db
      .deleteFrom("job_slots")
      .where("run_id", "=", runId)
      .where("job_id", "=", jobId)
      .execute();
  }
}
