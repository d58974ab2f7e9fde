// `limits:` of a job in .airlock.yml, and of the serve config's defaults and maximums.
import { z } from "zod";
import { Size, SizeAtLeast } from "./size.js";

const count = (field: string, min: number, max: number, describe: string) =>
  z
    .number({ error: `${field} must be a whole number` })
    .int(`${field} must be a whole number`)
    .min(min, `${field} must be at least ${min}`)
    .max(max, `${field} must be at most ${max}`)
    .optional()
    .describe(describe);

export const LimitsSchema = z
  .object({
    memory: SizeAtLeast("memory", "32MiB")
      .optional()
      .describe(
        'Memory of the whole job, its in-memory /tmp and home included, e.g. "2GiB"; no swap. Past it the kernel kills a process of the job.',
      ),
    processes: count(
      "processes",
      16,
      1_048_576,
      "Most processes and threads the job may have at once; past it, starting one fails.",
    ),
    cpus: z
      .number({ error: "cpus must be a number, e.g. 1 or 0.5" })
      .min(0.01, "cpus must be at least 0.01")
      .max(1024, "cpus must be at most 1024")
      .optional()
      .describe("CPU time the job may use, in cores (e.g. 1.5): a quota, not a pinning."),
    tmp: Size.optional().describe('Size of the job\'s private, in-memory /tmp, e.g. "512MiB".'),
    home: Size.optional().describe('Size of the job\'s private, in-memory $HOME, e.g. "512MiB".'),
    disk: Size.optional().describe(
      'Disk space the job\'s workspace (its checkout) may grow to, e.g. "4GiB"; past it the job is stopped.',
    ),
    log: SizeAtLeast("log", "64KiB")
      .optional()
      .describe('Largest stored log, e.g. "100MiB"; output past it is read and dropped.'),
    open_files: count(
      "open_files",
      16,
      1_048_576,
      "Most files a process of the job may have open (RLIMIT_NOFILE).",
    ),
    file_size: Size.optional().describe(
      'Largest file a process of the job may write, e.g. "2GB" (RLIMIT_FSIZE).',
    ),
  })
  .strict();

export type LimitsConfig = z.infer<typeof LimitsSchema>;
