// Checks of the `trust:` section that need the rest of the configuration: a bot's scope names
// restricted jobs and declared secret sets, a rule asks for more than the default approval, and
// notices go to a declared secret set's webhook or to someone mentioned.
import type { Path, Problem } from "./checks.js";
import { expansionsOf } from "./matrix.js";
import type { Config } from "./schema.js";
import { didYouMean } from "./suggest.js";

export function checkTrust(config: Config): Problem[] {
  const problems: Problem[] = [];
  const trust = config.trust;
  const sets = Object.keys(config.secrets);
  const noSet = (name: string, path: Path): Problem => ({
    path,
    message: `no secret set named "${name}"${didYouMean(name, sets)}; declare it under \`secrets:\``,
  });

  // Job names a scope may use: templates and matrix expansions, and whether each is restricted.
  const restricted = new Map<string, boolean>();
  for (const [t, job] of Object.entries(config.jobs)) {
    restricted.set(t, job.secrets.length > 0);
    for (const e of expansionsOf(t, job)) restricted.set(e.id, job.secrets.length > 0);
  }
  const seen = new Set<string>();
  trust.bots.forEach((bot, i) => {
    const login = bot.login.toLowerCase();
    if (seen.has(login)) {
      problems.push({ path: ["trust", "bots", i], message: `${bot.login} is listed twice` });
    }
    seen.add(login);
    bot.jobs.forEach((job, j) => {
      const r = restricted.get(job);
      const path: Path = ["trust", "bots", i, "jobs", j];
      if (r === undefined) {
        const names = Object.keys(config.jobs);
        problems.push({ path, message: `no job named "${job}"${didYouMean(job, names)}` });
      } else if (!r) {
        problems.push({
          path,
          message: `"${job}" is a public job: it runs for every pull request already; list restricted jobs here`,
        });
      }
    });
    bot.secrets.forEach((set, j) => {
      if (!sets.includes(set)) problems.push(noSet(set, ["trust", "bots", i, "secrets", j]));
    });
  });

  trust.rules.forEach((rule, i) => {
    if (rule.approvals < 2 && rule.teams.length === 0) {
      problems.push({
        path: ["trust", "rules", i],
        message:
          "this rule asks for what every commit needs already (one trusted approval): give `approvals: 2` or more, or `teams`",
      });
    }
  });

  const notify = trust.notify;
  if (notify?.webhook !== undefined && !sets.includes(notify.webhook)) {
    problems.push(noSet(notify.webhook, ["trust", "notify", "webhook"]));
  }
  if (notify && notify.mention.length === 0 && notify.webhook === undefined) {
    problems.push({
      path: ["trust", "notify"],
      message: "notify says nobody to tell: give `mention` (teams or users) and/or `webhook`",
    });
  }

  return problems;
}
