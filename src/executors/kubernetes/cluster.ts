// The few Kubernetes API calls the executor makes, through the official client, with errors
// turned into one line that names the object, the status and what to check. The client is large
// (seconds to load on a busy machine), so it is loaded only when a cluster is first used, never
// by `airlock` commands that have no Kubernetes executor.
import http from "node:http";
import https from "node:https";
import type {
  ApiException,
  BatchV1Api,
  CoreV1Api,
  KubeConfig,
  NetworkingV1Api,
  V1Job,
  V1NetworkPolicy,
  V1Pod,
} from "@kubernetes/client-node";

type Client = typeof import("@kubernetes/client-node");
let client: Client | undefined;

export interface ClusterOptions {
  namespace: string;
  /** A kubeconfig file; default: the in-cluster service account, else the user's kubeconfig. */
  kubeconfig?: string;
  context?: string;
}

/** The API answered 404: the object does not exist (any more). */
export class NotFound extends Error {}

export class Cluster {
  readonly namespace: string;
  readonly #kc: KubeConfig;
  readonly #batch: BatchV1Api;
  readonly #core: CoreV1Api;
  readonly #net: NetworkingV1Api;

  /** Loads the client and the kubeconfig. */
  static async connect(o: ClusterOptions): Promise<Cluster> {
    client ??= await import("@kubernetes/client-node");
    return new Cluster(o, client);
  }

  private constructor(o: ClusterOptions, k: Client) {
    this.namespace = o.namespace;
    const kc = new k.KubeConfig();
    if (o.kubeconfig) kc.loadFromFile(o.kubeconfig);
    else kc.loadFromDefault();
    if (o.context) kc.setCurrentContext(o.context);
    if (!kc.getCurrentCluster()) {
      throw new Error(
        "no Kubernetes cluster is configured: name a kubeconfig (kubeconfig:) or run Airlock in the cluster",
      );
    }
    this.#kc = kc;
    this.#batch = kc.makeApiClient(k.BatchV1Api);
    this.#core = kc.makeApiClient(k.CoreV1Api);
    this.#net = kc.makeApiClient(k.NetworkingV1Api);
  }

  /** Creates the Job; when one of that name exists already (a retried create), returns it. */
  async createJob(job: V1Job): Promise<V1Job> {
    try {
      return await this.#batch.createNamespacedJob({ namespace: this.namespace, body: job });
    } catch (e) {
      if (isApi(e) && e.code === 409) return this.readJob(job.metadata!.name!);
      throw apiError(e, `creating Job ${job.metadata?.name}`);
    }
  }

  async readJob(name: string): Promise<V1Job> {
    return this.#batch
      .readNamespacedJob({ name, namespace: this.namespace })
      .catch((e: unknown) => {
        throw apiError(e, `reading Job ${name}`);
      });
  }

  async listJobs(labelSelector: string): Promise<V1Job[]> {
    const list = await this.#batch
      .listNamespacedJob({ namespace: this.namespace, labelSelector })
      .catch((e: unknown) => {
        throw apiError(e, "listing Jobs");
      });
    return list.items;
  }

  /** Deletes the Job and, in the background, its pods; a Job already gone is no error. */
  async deleteJob(name: string): Promise<void> {
    try {
      await this.#batch.deleteNamespacedJob({
        name,
        namespace: this.namespace,
        propagationPolicy: "Background",
        gracePeriodSeconds: 0,
      });
    } catch (e) {
      if (isApi(e) && e.code === 404) return;
      throw apiError(e, `deleting Job ${name}`);
    }
  }

  async listPods(labelSelector: string): Promise<V1Pod[]> {
    const list = await this.#core
      .listNamespacedPod({ namespace: this.namespace, labelSelector })
      .catch((e: unknown) => {
        throw apiError(e, "listing pods");
      });
    return list.items;
  }

  async createNetworkPolicy(p: V1NetworkPolicy): Promise<void> {
    try {
      await this.#net.createNamespacedNetworkPolicy({ namespace: this.namespace, body: p });
    } catch (e) {
      if (isApi(e) && e.code === 409) return;
      throw apiError(e, `creating NetworkPolicy ${p.metadata?.name}`);
    }
  }

  async deleteNetworkPolicy(name: string): Promise<void> {
    try {
      await this.#net.deleteNamespacedNetworkPolicy({ name, namespace: this.namespace });
    } catch (e) {
      if (isApi(e) && e.code === 404) return;
      throw apiError(e, `deleting NetworkPolicy ${name}`);
    }
  }

  async listNetworkPolicies(labelSelector: string): Promise<V1NetworkPolicy[]> {
    const list = await this.#net
      .listNamespacedNetworkPolicy({ namespace: this.namespace, labelSelector })
      .catch((e: unknown) => {
        throw apiError(e, "listing NetworkPolicies");
      });
    return list.items;
  }

  /**
   * Opens the container's log (with timestamps) from `sinceSeconds` ago on, following it while
   * the container runs. The answer is a plain stream: its end or error says the connection is over.
   */
  async openLog(
    pod: string,
    container: string,
    o: { sinceSeconds?: number; signal: AbortSignal },
  ): Promise<http.IncomingMessage> {
    const cluster = this.#kc.getCurrentCluster()!;
    const url = new URL(`${cluster.server}/api/v1/namespaces/${this.namespace}/pods/${pod}/log`);
    url.searchParams.set("container", container);
    url.searchParams.set("follow", "true");
    url.searchParams.set("timestamps", "true");
    if (o.sinceSeconds) url.searchParams.set("sinceSeconds", String(o.sinceSeconds));
    const opts: https.RequestOptions = { method: "GET", headers: {} };
    await this.#kc.applyToHTTPSOptions(opts);
    const lib = url.protocol === "https:" ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(url, { ...opts, signal: o.signal }, (res) => {
        if (res.statusCode === 200) return resolve(res);
        res.resume();
        const text = `reading the log of pod ${pod}: HTTP ${res.statusCode}`;
        reject(res.statusCode === 404 ? new NotFound(text) : new Error(text));
      });
      req.on("error", reject);
      req.end();
    });
  }
}

/** One line for an API failure: what was done, the status, and the API's own message. */
/** An error the API answered (the client's ApiException), told by its class once loaded. */
function isApi(e: unknown): e is ApiException<unknown> {
  return client !== undefined && e instanceof client.ApiException;
}

export function apiError(e: unknown, doing: string): Error {
  if (isApi(e)) {
    if (e.code === 404) return new NotFound(`${doing}: not found`);
    const body = typeof e.body === "string" ? safeMessage(e.body) : "";
    const hint =
      e.code === 401 || e.code === 403
        ? ": check the executor's credentials and its Role (docs/kubernetes.md)"
        : "";
    return new Error(`${doing}: Kubernetes answered ${e.code}${body ? ` (${body})` : ""}${hint}`);
  }
  return new Error(`${doing}: ${e instanceof Error ? e.message : String(e)}`);
}

function safeMessage(body: string): string {
  try {
    const m = (JSON.parse(body) as { message?: unknown }).message;
    return typeof m === "string" ? m.slice(0, 300) : "";
  } catch {
    return "";
  }
}
