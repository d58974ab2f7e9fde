// How a secret set is read from Vault/OpenBao. Filled in by the Vault backend.
import { z } from "zod";

export const VaultSetSchema = z
  .object({
    path: z.string().min(1),
  })
  .strict();
