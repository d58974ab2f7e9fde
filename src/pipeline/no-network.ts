// A job without `network: true` that fails after network errors was most likely cut off by its
// sandbox: say so plainly, since the job's own messages rarely do (npm retries in silence). A job
// with an allow list was cut off from what its list lacks, or used a tool that ignores its proxy.

// What curl, Node, Python, Go, Java, wget, ssh and the C library say when a name does not
// resolve or no route leads out.
const FAILURES =
  /ENOTFOUND|EAI_AGAIN|getaddrinfo|Could not resolve host|ECONNREFUSED|[Nn]etwork is unreachable|Failed to connect to|Temporary failure in name resolution|Name or service not known|no such host|UnknownHostException|unable to resolve host address|No route to host/;
/** The longest pattern, less one: what a chunk boundary may split. */
const CARRY = 35;

/** Watches a job's output for DNS and connection failures. */
export class NetworkFailureSpotter {
  #seen = false;
  #carry = "";

  get seen(): boolean {
    return this.#seen;
  }

  feed(chunk: Buffer): void {
    if (this.#seen) return;
    const text = this.#carry + chunk.toString("latin1");
    this.#seen = FAILURES.test(text);
    this.#carry = text.slice(-CARRY);
  }
}

/** The hint for a job that failed or timed out after network errors, with no network to use. */
export function noNetworkHint(
  job: { template: string; network: boolean; egress?: unknown },
  status: string,
  spotter: NetworkFailureSpotter,
): string | null {
  if (job.network || !spotter.seen || (status !== "failed" && status !== "timed_out")) return null;
  if (job.egress) {
    return `this job reaches the network only through its egress proxy ($HTTPS_PROXY): a tool that ignores the proxy variables cannot connect at all (point it at the proxy), and a host missing from jobs.${job.template}.network.allow is refused (see "egress refused" above)`;
  }
  return `this job has no network: add \`network: true\` to jobs.${job.template}`;
}
