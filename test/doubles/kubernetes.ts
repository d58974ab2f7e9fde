// A Kubernetes API server double for the Kubernetes executor's tests. It refuses any request whose
// path, method, query parameter or body the client's generated API classes and models do not
// describe (kubernetes-api.ts), admits pods only under the restricted Pod Security Standard, and
// acts as a tiny kubelet: a Job's pod runs its command for real in a local bubblewrap sandbox (the
// image is ignored, and so are NetworkPolicies: enforcing them is the CNI's job), with its log
// served with timestamps and following, its deadline enforced, and deletion killing it.
// Hooks let tests drop log connections, evict a pod, kill one as out of memory, delete a Job
// behind Airlock's back, or keep an image from pulling.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { LocalExecutor } from "../../src/executors/local/executor.js";
import { shellQuote } from "../../src/jobapi/secrets-script.js";
import { type ApiRoute, loadRoutes, matchRoute, validateModel } from "./kubernetes-api.js";

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects as JSON, read field by field
type Obj = Record<string, any>;

interface LogLine {
  ts: string;
  text: string;
  /** Ends with a newline (the last line of a container may not). */
  nl: boolean;
}

interface Pod {
  obj: Obj;
  lines: LogLine[];
  partial: string;
  stop: AbortController;
  /** Why the kubelet stopped it, when it did. */
  killed?: "evicted" | "oom" | "deleted" | "deadline";
  done: Promise<void>;
  listeners: Set<() => void>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  operation: string | null;
  body?: unknown;
}

const ROUTES: ApiRoute[] = loadRoutes();
const TOKEN = `double-${randomBytes(8).toString("hex")}`;

export class KubernetesDouble {
  readonly requests: RecordedRequest[] = [];
  /** Requests the API description does not allow, with why: a test expects none. */
  readonly problems: string[] = [];
  readonly jobs = new Map<string, Obj>();
  readonly pods = new Map<string, Pod>();
  readonly policies = new Map<string, Obj>();
  /** Images that never pull (ErrImagePull). */
  readonly unpullable = new Set<string>();
  /** CPU requests above this leave the pod unschedulable. */
  cpuCapacity = 16;
  /** Time spent running pods in the sandbox, in all (for the benchmark). */
  kubeletMs = 0;
  url = "";
  readonly #server: http.Server;
  readonly #dir: string;
  readonly #executor: LocalExecutor;
  readonly #logStreams = new Set<http.ServerResponse>();
  #seq = 0;

  private constructor(readonly namespace: string) {
    this.#dir = mkdtempSync(path.join(os.tmpdir(), "airlock-k8s-double-"));
    this.#executor = new LocalExecutor({ tempDir: this.#dir });
    this.#server = http.createServer((req, res) => {
      this.#handle(req, res).catch((e: unknown) => {
        this.problems.push(`double failed on ${req.method} ${req.url}: ${String(e)}`);
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
  }

  static async start(namespace = "ci"): Promise<KubernetesDouble> {
    const d = new KubernetesDouble(namespace);
    await new Promise<void>((r) => d.#server.listen(0, "127.0.0.1", r));
    const a = d.#server.address() as { port: number };
    d.url = `http://127.0.0.1:${a.port}`;
    return d;
  }

  /** Writes a kubeconfig for this double and returns its path. */
  kubeconfig(): string {
    const file = path.join(this.#dir, "kubeconfig");
    writeFileSync(
      file,
      `apiVersion: v1
kind: Config
clusters: [{name: double, cluster: {server: "${this.url}", insecure-skip-tls-verify: true}}]
users: [{name: airlock, user: {token: "${TOKEN}"}}]
contexts: [{name: double, context: {cluster: double, user: airlock, namespace: ${this.namespace}}}]
current-context: double
`,
      { mode: 0o600 },
    );
    return file;
  }

  async close(): Promise<void> {
    for (const p of this.pods.values()) p.stop.abort();
    await Promise.all([...this.pods.values()].map((p) => p.done));
    for (const s of this.#logStreams) s.destroy();
    await new Promise((r) => this.#server.close(r));
    this.#server.closeAllConnections();
    await this.#executor.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  // ---- hooks ------------------------------------------------------------------------------------

  /** Cuts every open log connection in the middle, as a proxy or an API server restart would. */
  dropLogStreams(): number {
    const n = this.#logStreams.size;
    for (const s of this.#logStreams) s.destroy();
    this.#logStreams.clear();
    return n;
  }

  podsOf(job: string): Pod[] {
    return [...this.pods.values()].filter((p) => p.obj.metadata.labels["job-name"] === job);
  }

  /** Evicts the Job's pod (its node ran short), killing its processes. */
  evict(job: string): void {
    for (const p of this.podsOf(job)) this.#kill(p, "evicted");
  }

  /** Kills the Job's container as the kernel does at its memory limit. */
  oomKill(job: string): void {
    for (const p of this.podsOf(job)) this.#kill(p, "oom");
  }

  /** Ends the Job as its activeDeadlineSeconds would, whatever time it is (no race with load). */
  exceedDeadline(job: string): void {
    for (const p of this.podsOf(job)) this.#kill(p, "deadline");
  }

  /** Deletes a Job and its pods as someone else would (kubectl delete). */
  deleteBehindAirlock(job: string): void {
    this.#deleteJob(job);
  }

  // ---- API ----------------------------------------------------------------------------------

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.url);
    const method = req.method ?? "GET";
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const match = matchRoute(ROUTES, method, url.pathname);
    const rec: RecordedRequest = {
      method,
      path: url.pathname,
      operation: match?.route.operation ?? null,
    };
    this.requests.push(rec);
    const status = (code: number, reason: string, message: string) =>
      send(res, code, {
        kind: "Status",
        apiVersion: "v1",
        status: "Failure",
        reason,
        message,
        code,
      });
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      return status(401, "Unauthorized", "no valid bearer token");
    }
    if (!match) {
      this.problems.push(`${method} ${url.pathname}: no operation of the API has this path`);
      return status(404, "NotFound", "the server could not find the requested resource");
    }
    for (const q of url.searchParams.keys()) {
      if (!match.route.query.has(q)) {
        this.problems.push(
          `${method} ${url.pathname}: ${match.route.operation} has no parameter ${q}`,
        );
        return status(400, "BadRequest", `unknown query parameter ${q}`);
      }
    }
    let body: Obj | undefined;
    // DeleteOptions are optional: a DELETE may come without a body.
    if (match.route.bodyType && !(method === "DELETE" && raw === "")) {
      try {
        body = JSON.parse(raw) as Obj;
      } catch {
        this.problems.push(`${method} ${url.pathname}: the body is not JSON`);
        return status(400, "BadRequest", "the body is not JSON");
      }
      rec.body = body;
      const errs = validateModel(body, match.route.bodyType);
      if (errs.length > 0) {
        this.problems.push(`${match.route.operation}: ${errs.join("; ")}`);
        return status(422, "Invalid", `strict decoding error: ${errs.join("; ")}`);
      }
    } else if (raw !== "" && method !== "DELETE") {
      this.problems.push(`${method} ${url.pathname}: a body where the operation takes none`);
    }
    const p = match.params;
    if (p.namespace !== undefined && p.namespace !== this.namespace) {
      return status(404, "NotFound", `namespaces "${p.namespace}" not found`);
    }
    const selector = url.searchParams.get("labelSelector") ?? "";
    switch (match.route.operation) {
      case "BatchV1Api.createNamespacedJob":
        return this.#createJob(body!, res, status);
      case "BatchV1Api.readNamespacedJob": {
        const j = this.jobs.get(p.name!);
        return j ? send(res, 200, j) : status(404, "NotFound", `jobs.batch "${p.name}" not found`);
      }
      case "BatchV1Api.listNamespacedJob":
        return send(res, 200, list("JobList", "batch/v1", [...this.jobs.values()], selector));
      case "BatchV1Api.deleteNamespacedJob": {
        if (!this.jobs.has(p.name!))
          return status(404, "NotFound", `jobs.batch "${p.name}" not found`);
        this.#deleteJob(p.name!);
        return send(res, 200, { kind: "Status", apiVersion: "v1", status: "Success" });
      }
      case "CoreV1Api.listNamespacedPod":
        return send(
          res,
          200,
          list(
            "PodList",
            "v1",
            [...this.pods.values()].map((x) => x.obj),
            selector,
          ),
        );
      case "CoreV1Api.readNamespacedPodLog":
        return this.#log(p.name!, url.searchParams, res, status);
      case "NetworkingV1Api.createNamespacedNetworkPolicy": {
        const name = body!.metadata?.name as string;
        if (this.policies.has(name)) return status(409, "AlreadyExists", "exists");
        this.policies.set(name, { ...body!, metadata: { ...body!.metadata, uid: uid() } });
        return send(res, 201, this.policies.get(name));
      }
      case "NetworkingV1Api.listNamespacedNetworkPolicy":
        return send(
          res,
          200,
          list("NetworkPolicyList", "networking.k8s.io/v1", [...this.policies.values()], selector),
        );
      case "NetworkingV1Api.deleteNamespacedNetworkPolicy": {
        if (!this.policies.delete(p.name!)) return status(404, "NotFound", "not found");
        return send(res, 200, { kind: "Status", apiVersion: "v1", status: "Success" });
      }
      default:
        this.problems.push(`${match.route.operation}: not something the executor should call`);
        return status(405, "MethodNotAllowed", "not served by the double");
    }
  }

  #createJob(
    body: Obj,
    res: http.ServerResponse,
    status: (c: number, r: string, m: string) => void,
  ): void {
    const name = body.metadata?.name as string | undefined;
    if (!name || !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name) || name.length > 57) {
      status(422, "Invalid", `metadata.name: Invalid value: ${JSON.stringify(name)}`);
      return;
    }
    if (this.jobs.has(name)) {
      status(409, "AlreadyExists", `jobs.batch "${name}" already exists`);
      return;
    }
    const podSpec = body.spec?.template?.spec as Obj;
    const problem = restrictedProblem(podSpec);
    if (problem) {
      status(403, "Forbidden", `violates PodSecurity "restricted:latest": ${problem}`);
      return;
    }
    const job: Obj = {
      ...body,
      metadata: { ...body.metadata, uid: uid(), creationTimestamp: new Date().toISOString() },
      status: { active: 1, startTime: new Date().toISOString() },
    };
    this.jobs.set(name, job);
    this.#startPod(job);
    send(res, 201, job);
  }

  #deleteJob(name: string): void {
    this.jobs.delete(name);
    for (const p of this.podsOf(name)) {
      this.#kill(p, "deleted");
      p.done.then(() => this.pods.delete(p.obj.metadata.name));
    }
  }

  #kill(p: Pod, why: NonNullable<Pod["killed"]>): void {
    p.killed ??= why;
    p.stop.abort();
  }

  // ---- kubelet --------------------------------------------------------------------------------

  #startPod(job: Obj): void {
    const jobName = job.metadata.name as string;
    const podName = `${jobName}-${randomBytes(3).toString("hex").slice(0, 5)}`;
    const spec = job.spec.template.spec as Obj;
    const c = spec.containers[0] as Obj;
    const obj: Obj = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: podName,
        namespace: this.namespace,
        uid: uid(),
        creationTimestamp: new Date().toISOString(),
        labels: {
          ...job.spec.template.metadata?.labels,
          "job-name": jobName,
          "batch.kubernetes.io/job-name": jobName,
        },
      },
      spec,
      status: { phase: "Pending", conditions: [] },
    };
    const pod: Pod = {
      obj,
      lines: [],
      partial: "",
      stop: new AbortController(),
      done: Promise.resolve(),
      listeners: new Set(),
    };
    this.pods.set(podName, pod);
    const cpu = Number.parseFloat(String(c.resources?.requests?.cpu ?? "0"));
    if (cpu > this.cpuCapacity) {
      obj.status.conditions = [
        {
          type: "PodScheduled",
          status: "False",
          reason: "Unschedulable",
          message: `0/1 nodes are available: 1 Insufficient cpu.`,
        },
      ];
      return;
    }
    obj.status.conditions = [{ type: "PodScheduled", status: "True" }];
    if (this.unpullable.has(c.image)) {
      obj.status.containerStatuses = [
        {
          name: c.name,
          image: c.image,
          ready: false,
          restartCount: 0,
          state: {
            waiting: {
              reason: "ErrImagePull",
              message: `failed to pull image "${c.image}": not found`,
            },
          },
        },
      ];
      return;
    }
    pod.done = this.#run(job, pod, c);
  }

  async #run(job: Obj, pod: Pod, c: Obj): Promise<void> {
    const started = new Date().toISOString();
    pod.obj.status = {
      ...pod.obj.status,
      phase: "Running",
      startTime: started,
      containerStatuses: [
        {
          name: c.name,
          image: c.image,
          ready: true,
          restartCount: 0,
          state: { running: { startedAt: started } },
        },
      ],
    };
    const env: Record<string, string> = {};
    for (const e of c.env ?? []) env[e.name] = e.value ?? "";
    // The pod's memory-backed run volume: a writable place in the sandbox's own memory.
    env.AIRLOCK_RUN_DIR = "/tmp/.airlock-run";
    const output = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        this.#append(pod, chunk.toString("utf8"));
        cb();
      },
    });
    const deadline = (job.spec.activeDeadlineSeconds as number) * 1000;
    const t0 = performance.now();
    const r = await this.#executor.run({
      runId: "kubelet",
      job: {
        id: pod.obj.metadata.name,
        run: `exec ${(c.command as string[]).map(shellQuote).join(" ")}`,
        secrets: [],
        timeoutMs: deadline,
        network: true,
        reports: [],
      },
      checkout: { kind: "dirty", dir: this.#emptyDir(), includeIgnored: true },
      env,
      secretEnv: {},
      secretFiles: [],
      mounts: [],
      output,
      signal: pod.stop.signal,
    });
    this.kubeletMs += performance.now() - t0;
    if (pod.partial !== "") {
      pod.lines.push({ ts: this.#ts(), text: pod.partial, nl: false });
      pod.partial = "";
    }
    const finished = new Date().toISOString();
    const term = (exitCode: number, reason: string) => ({
      name: c.name,
      image: c.image,
      ready: false,
      restartCount: 0,
      state: { terminated: { exitCode, reason, startedAt: started, finishedAt: finished } },
    });
    const jobNow = this.jobs.get(job.metadata.name);
    if (pod.killed === "evicted") {
      pod.obj.status = {
        ...pod.obj.status,
        phase: "Failed",
        reason: "Evicted",
        message: "The node was low on resource: memory.",
        containerStatuses: [term(137, "Error")],
      };
    } else if (pod.killed === "oom") {
      pod.obj.status = {
        ...pod.obj.status,
        phase: "Failed",
        containerStatuses: [term(137, "OOMKilled")],
      };
    } else if (r.status === "timed_out" || pod.killed === "deadline") {
      pod.obj.status = {
        ...pod.obj.status,
        phase: "Failed",
        containerStatuses: [term(137, "Error")],
      };
      if (jobNow) {
        jobNow.status = {
          failed: 1,
          conditions: [
            {
              type: "Failed",
              status: "True",
              reason: "DeadlineExceeded",
              message: "Job was active longer than specified deadline",
            },
          ],
        };
      }
    } else {
      const code = r.exitCode ?? 137;
      pod.obj.status = {
        ...pod.obj.status,
        phase: code === 0 ? "Succeeded" : "Failed",
        containerStatuses: [term(code, code === 0 ? "Completed" : "Error")],
      };
    }
    if (jobNow && !jobNow.status.conditions) {
      const ok = pod.obj.status.phase === "Succeeded";
      jobNow.status = {
        [ok ? "succeeded" : "failed"]: 1,
        completionTime: ok ? finished : undefined,
        conditions: [
          ok
            ? { type: "Complete", status: "True" }
            : {
                type: "Failed",
                status: "True",
                reason: "BackoffLimitExceeded",
                message: "Job has reached the specified backoff limit",
              },
        ],
      };
    }
    for (const l of pod.listeners) l();
  }

  #emptyDir(): string {
    return mkdtempSync(path.join(this.#dir, "emptydir-"));
  }

  /** RFC3339Nano with a sequence in the low digits, so that order survives equal milliseconds. */
  #ts(): string {
    const iso = new Date().toISOString(); // ...T..:..:..mmmZ
    return `${iso.slice(0, 23)}${String(++this.#seq % 1_000_000).padStart(6, "0")}Z`;
  }

  #append(pod: Pod, text: string): void {
    const parts = (pod.partial + text).split("\n");
    pod.partial = parts.pop()!;
    // Lines of one write share a timestamp, as lines a container writes at once may.
    const ts = this.#ts();
    for (const t of parts) pod.lines.push({ ts, text: t, nl: true });
    for (const l of pod.listeners) l();
  }

  #log(
    name: string,
    q: URLSearchParams,
    res: http.ServerResponse,
    status: (c: number, r: string, m: string) => void,
  ): void {
    const pod = this.pods.get(name);
    if (!pod) {
      status(404, "NotFound", `pods "${name}" not found`);
      return;
    }
    const since = q.get("sinceSeconds");
    if (since !== null && !/^[1-9]\d*$/.test(since)) {
      status(400, "BadRequest", "sinceSeconds must be a positive integer");
      return;
    }
    const stamps = q.get("timestamps") === "true";
    const follow = q.get("follow") === "true";
    res.writeHead(200, { "content-type": "text/plain", "transfer-encoding": "chunked" });
    let i = 0;
    const from = since
      ? new Date(Date.now() - Number(since) * 1000).toISOString().slice(0, 19)
      : "";
    const flush = () => {
      for (; i < pod.lines.length; i++) {
        const l = pod.lines[i]!;
        if (from && l.ts.slice(0, 19) < from) continue;
        res.write(`${stamps ? `${l.ts} ` : ""}${l.text}${l.nl ? "\n" : ""}`);
      }
    };
    const over = () => Boolean(pod.obj.status.containerStatuses?.[0]?.state?.terminated);
    flush();
    if (!follow || over()) {
      res.end();
      return;
    }
    this.#logStreams.add(res);
    const listener = () => {
      if (res.destroyed) return;
      flush();
      if (over()) {
        pod.listeners.delete(listener);
        this.#logStreams.delete(res);
        res.end();
      }
    };
    pod.listeners.add(listener);
    res.on("close", () => {
      pod.listeners.delete(listener);
      this.#logStreams.delete(res);
    });
  }
}

/** What the restricted Pod Security Standard refuses in a pod spec, or null. */
export function restrictedProblem(spec: Obj | undefined): string | null {
  if (!spec) return "no pod template";
  const psc = spec.securityContext ?? {};
  if (spec.hostNetwork || spec.hostPID || spec.hostIPC) return "host namespaces";
  for (const v of spec.volumes ?? []) if (v.hostPath) return `hostPath volume ${v.name}`;
  for (const c of spec.containers ?? []) {
    const sc = c.securityContext ?? {};
    if (sc.privileged) return `privileged container ${c.name}`;
    if (sc.allowPrivilegeEscalation !== false) {
      return `allowPrivilegeEscalation != false (container "${c.name}" must set securityContext.allowPrivilegeEscalation=false)`;
    }
    if (!(sc.capabilities?.drop ?? []).includes("ALL")) {
      return `unrestricted capabilities (container "${c.name}" must set securityContext.capabilities.drop=["ALL"])`;
    }
    if ((sc.capabilities?.add ?? []).some((a: string) => a !== "NET_BIND_SERVICE")) {
      return `added capabilities in container ${c.name}`;
    }
    if (sc.runAsNonRoot !== true && psc.runAsNonRoot !== true) {
      return `runAsNonRoot != true (pod or container "${c.name}" must set securityContext.runAsNonRoot=true)`;
    }
    if (sc.runAsUser === 0 || psc.runAsUser === 0) return "runAsUser=0";
    const seccomp = sc.seccompProfile?.type ?? psc.seccompProfile?.type;
    if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") {
      return `seccompProfile (pod or container "${c.name}" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`;
    }
  }
  return null;
}

function send(res: http.ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { "content-type": "application/json" }).end(JSON.stringify(body));
}

function uid(): string {
  return randomBytes(16)
    .toString("hex")
    .replace(/(.{8})(.{4})(.{4})(.{4})(.{12})/, "$1-$2-$3-$4-$5");
}

function list(kind: string, apiVersion: string, items: Obj[], selector: string): Obj {
  return { kind, apiVersion, metadata: {}, items: items.filter((i) => selects(selector, i)) };
}

/** Equality (`a=b`, `a==b`, `a!=b`) and set (`a in (x,y)`) requirements, comma-separated. */
function selects(selector: string, obj: Obj): boolean {
  const labels: Record<string, string> = obj.metadata?.labels ?? {};
  const reqs = selector.match(/[^,(]+(\([^)]*\))?/g) ?? [];
  return reqs.every((r) => {
    const s = r.trim();
    const set = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(s);
    if (set) {
      const vals = set[3]!.split(",").map((v) => v.trim());
      const has = vals.includes(labels[set[1]!] ?? "\0");
      return set[2] === "in" ? has : !has;
    }
    const eq = /^([^!=]+)(==|=|!=)(.*)$/.exec(s);
    if (eq) return eq[2] === "!=" ? labels[eq[1]!] !== eq[3] : labels[eq[1]!] === eq[3];
    return s in labels;
  });
}
