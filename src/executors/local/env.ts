// The environment a job sees. Nothing is inherited from Airlock's own environment except what the
// allowlist below names; secrets are added here and travel to the job only through the
// environment of the spawned process (never argv).

/** Paths inside the sandbox. */
export const SANDBOX = {
  workspace: "/workspace",
  home: "/home/airlock",
  run: "/run/airlock",
  secrets: "/run/airlock/secrets",
  script: "/run/airlock/job.sh",
  /** The job's API socket (fresh ID tokens), when it has one: AIRLOCK_JOB_API_SOCKET. */
  apiSocket: "/run/airlock/api.sock",
} as const;

export const SANDBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * The documented allowlist every job gets (the job's own `env` may override all but AIRLOCK_*):
 * PATH, HOME, LANG, TERM=dumb, CI=true, and AIRLOCK_WORKSPACE / AIRLOCK_SECRETS_DIR.
 */
export function baseEnv(opts: { sandbox: boolean; home: string; workspace: string }) {
  return {
    // Outside the sandbox the job needs the tools of the machine it runs on.
    PATH: opts.sandbox ? SANDBOX_PATH : process.env.PATH || SANDBOX_PATH,
    HOME: opts.home,
    LANG: "C.UTF-8",
    TERM: "dumb",
    CI: "true",
  };
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class EnvError extends Error {}

/** Merges the layers (later wins) after checking every name and value. */
export function buildEnv(...layers: Record<string, string>[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer)) {
      if (!NAME.test(k)) {
        throw new EnvError(
          `environment variable name ${JSON.stringify(k)} is not valid: use letters, digits and _`,
        );
      }
      // The value is not shown: it may be a secret.
      if (typeof v !== "string" || v.includes("\0")) {
        throw new EnvError(`environment variable ${k} has a value with a NUL byte`);
      }
      env[k] = v;
    }
  }
  return env;
}
