// A trusted member re-requested a check on GitHub: a job's check runs that job again (and what it
// needs); the approval or gate check is reported afresh.
import { GATE_CHECK } from "../checks.js";
import { senderTrust } from "./authorize.js";
import { facts } from "./facts.js";
import { load } from "./load.js";
import { runOnDemand } from "./on-demand.js";
import { reportGate } from "./status.js";
import type { RerequestEvent, UseCase } from "./types.js";

export const onRerequest: UseCase<RerequestEvent> = async (flow, ev, ctx) => {
  const repo = ev.repo.fullName;
  const [runId, jobId] = (ev.checkRun.externalId ?? "").split("/");
  const run = runId ? await flow.o.runs.get(runId) : undefined;
  const pr = run?.pr ?? ev.checkRun.pullNumbers[0];
  if (!pr || (run && run.repo !== repo)) return;
  const f = await facts(flow, repo, ev.installationId!, pr);
  if (!f.open || f.headSha !== ev.checkRun.headSha) return;
  const loaded = await load(flow, f);
  if (!loaded) return;
  const verdict = await senderTrust(flow, f, loaded, ev.sender);
  if (!verdict.trusted) return;
  const job =
    run && jobId ? (await flow.o.runs.jobs(run.id)).find((j) => j.job_id === jobId) : undefined;
  if (!job) {
    if (ev.checkRun.name === GATE_CHECK) await reportGate(flow, f, loaded);
    return;
  }
  await runOnDemand(
    flow,
    f,
    loaded,
    ctx,
    { jobs: [job.template] },
    ev.sender.login,
    `rerequest-${ev.checkRun.id}`,
    "rerun",
  );
};
