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
    tmp: Size.optional().describe('Size of the job\'s private, in-memory /tmp, e.g. "512MiB".'),
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
