// Computes what a deployment must do to turn the actual resources into the desired ones.
export function plan(desired, actual) {
  const byName = new Map(actual.map((r) => [r.name, r]));
  const steps = [];
  for (const want of desired) {
    const have = byName.get(want.name);
    if (!have) steps.push({ op: "create", name: want.name, spec: want.spec });
    else if (JSON.stringify(have.spec) !== JSON.stringify(want.spec))
      steps.push({ op: "update", name: want.name, spec: want.spec });
    byName.delete(want.name);
  }
  for (const name of byName.keys()) steps.push({ op: "delete", name });
  return steps;
}

/** Applies steps through a provider client; stops at the first failure. */
export async function apply(steps, client) {
  const done = [];
  for (const step of steps) {
    await client[step.op](step.name, step.spec);
    done.push(step);
  }
  return done;
}
