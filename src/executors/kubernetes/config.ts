// Settings of a Kubernetes executor, as a serve config names it (`executors: { NAME: { kind:
// kubernetes, … } }`); the schema lives with the other configuration schemas.
import type { z } from "zod";
import type { KubernetesExecutorSchema } from "../../config/executor-schema.js";

export type KubernetesExecutorConfig = z.infer<typeof KubernetesExecutorSchema>;
