// The companion test-suite repository. Filled in by the suite feature.
import { z } from "zod";

export const SuiteSchema = z
  .object({
    url: z.string().min(1),
    ref: z.string().default("main"),
    match_branch: z.boolean().default(false),
  })
  .strict();
