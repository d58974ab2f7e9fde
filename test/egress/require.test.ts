// Whether a job's network lets it start: checked by the runner before any secret is released.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { egressProblem } from "../../src/egress/require.js";

const local = { name: "local", kind: "local" as const, egress: true };
const remote = { name: "kubernetes", kind: "kubernetes" as const };
const restricted = { secrets: ["cloud"], network: false };
const allow = { allow: ["a.test"], audit: false };

describe("egress requirements", () => {
  it("never runs an allow list on an executor that cannot enforce it", () => {
    assert.equal(egressProblem({ ...restricted, egress: allow }, "f", local), null);
    assert.match(
      egressProblem({ secrets: [], network: false, egress: allow }, "f", remote) ?? "",
      /jobs\.f has a network allow list, which the kubernetes executor cannot enforce/,
    );
    assert.match(
      egressProblem({ ...restricted, egress: allow }, "f", {
        name: "gitlab",
        kind: "gitlab" as const,
        egress: false,
      }) ?? "",
      /gitlab/,
    );
    assert.match(
      egressProblem({ ...restricted, egress: allow }, "f", { ...local, egress: false }) ?? "",
      /which the local executor without its sandbox cannot enforce/,
    );
    assert.equal(egressProblem({ secrets: [], network: true }, "f", remote), null);
  });

  it("under requireAllowlist, wants restricted jobs enforced or offline; public jobs are free", () => {
    const req = { requireAllowlist: true };
    assert.equal(egressProblem({ ...restricted }, "f", local, req), null);
    assert.equal(egressProblem({ ...restricted, egress: allow }, "f", local, req), null);
    assert.match(
      egressProblem({ ...restricted, network: true }, "f", local, req) ?? "",
      /network: true/,
    );
    assert.match(
      egressProblem({ ...restricted, egress: { allow: [], audit: true } }, "f", local, req) ?? "",
      /audit/,
    );
    assert.equal(egressProblem({ secrets: [], network: true }, "f", local, req), null);
    assert.equal(egressProblem({ ...restricted, network: true }, "f", local), null);
  });
});
