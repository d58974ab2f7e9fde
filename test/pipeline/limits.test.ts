// A job's limits: its own, else its kind's defaults, never above the server's maximum.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  DEFAULT_LIMITS,
  type LimitPolicy,
  LOCAL_POLICY,
  resolveLimits,
} from "../../src/pipeline/limits.js";

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const server: LimitPolicy = { ...DEFAULT_LIMITS, max: { logBytes: 200 * MiB, tmpBytes: GiB } };

describe("resolveLimits", () => {
  it("gives public and restricted jobs their defaults", () => {
    assert.deepEqual(resolveLimits({ secrets: [] }, LOCAL_POLICY).limits, DEFAULT_LIMITS.public);
    assert.deepEqual(
      resolveLimits({ secrets: ["s"] }, LOCAL_POLICY).limits,
      DEFAULT_LIMITS.restricted,
    );
    assert.equal(DEFAULT_LIMITS.public.logBytes, 100 * MiB);
  });

  it("takes what the job asks for, within the maximum", () => {
    const r = resolveLimits(
      { secrets: [], limits: { logBytes: 150 * MiB, openFiles: 64 } },
      server,
    );
    assert.equal(r.limits.logBytes, 150 * MiB);
    assert.equal(r.limits.openFiles, 64);
    assert.deepEqual(r.notes, []);
  });

  it("cuts an ask above the maximum down to it, and says so", () => {
    const r = resolveLimits(
      { secrets: [], limits: { logBytes: 10 * GiB, tmpBytes: 4 * GiB } },
      server,
    );
    assert.equal(r.limits.logBytes, 200 * MiB);
    assert.equal(r.limits.tmpBytes, GiB);
    assert.deepEqual(r.notes, [
      "limits.tmp 4 GiB is above this server's maximum: the job gets 1 GiB",
      "limits.log 10 GiB is above this server's maximum: the job gets 200 MiB",
    ]);
  });

  it("without a maximum (airlock run), a job gets what it asks for", () => {
    const r = resolveLimits({ secrets: [], limits: { logBytes: 10 * GiB } }, LOCAL_POLICY);
    assert.equal(r.limits.logBytes, 10 * GiB);
    assert.deepEqual(r.notes, []);
  });
});
