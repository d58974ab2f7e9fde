// The no-network hint: network failures in the output of a job that has no network and failed.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NetworkFailureSpotter, noNetworkHint } from "../../src/pipeline/no-network.js";

const spot = (...chunks: string[]) => {
  const s = new NetworkFailureSpotter();
  for (const c of chunks) s.feed(Buffer.from(c));
  return s;
};
const job = { template: "install", network: false };

describe("no-network hint", () => {
  for (const line of [
    "npm error getaddrinfo EAI_AGAIN registry.npmjs.org",
    "Error: getaddrinfo ENOTFOUND github.com",
    "curl: (6) Could not resolve host: example.com",
    "connect ECONNREFUSED 127.0.0.1:5432",
    "bash: connect: Network is unreachable",
    "ping: connect: network is unreachable",
    "curl: (7) Failed to connect to api.example.com port 443 after 0 ms: Couldn't connect to server",
    "socket.gaierror: [Errno -3] Temporary failure in name resolution",
    "urllib3.exceptions.NameResolutionError: [Errno -2] Name or service not known",
    "dial tcp: lookup proxy.golang.org on 127.0.0.53:53: no such host",
    "java.net.UnknownHostException: repo.maven.apache.org",
    "wget: unable to resolve host address 'example.com'",
    "ssh: connect to host 203.0.113.7 port 22: No route to host",
  ]) {
    it(`spots: ${line}`, () => {
      assert.equal(
        noNetworkHint(job, "failed", spot(`building\n${line}\n`)),
        "this job has no network: add `network: true` to jobs.install",
      );
    });
  }

  it("spots a failure split across chunks", () => {
    assert.ok(spot("error: getaddrinfo EAI_", "AGAIN registry").seen);
    assert.ok(spot("Could not res", "olve host").seen);
    assert.ok(spot("x".repeat(100), "Temporary failure in name res", "olution").seen);
  });

  it("says nothing for a job that passed, has network, or printed no network failure", () => {
    const seen = spot("getaddrinfo ENOTFOUND x\n");
    assert.equal(noNetworkHint(job, "passed", seen), null);
    assert.equal(noNetworkHint(job, "cancelled", seen), null);
    assert.equal(noNetworkHint({ ...job, network: true }, "failed", seen), null);
    assert.equal(noNetworkHint(job, "failed", spot("assertion failed\n")), null);
    assert.ok(noNetworkHint(job, "timed_out", seen));
  });

  it("tells a job with an allow list about its proxy instead", () => {
    const hint = noNetworkHint(
      { ...job, egress: { allow: ["a.test"], audit: false } },
      "failed",
      spot(
        "curl: (7) Failed to connect to a.test port 80 after 1 ms: Couldn't connect to server\n",
      ),
    );
    assert.match(hint ?? "", /only through its egress proxy/);
    assert.match(hint ?? "", /jobs\.install\.network\.allow/);
  });
});
