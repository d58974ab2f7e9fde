// Migrations in order. Add a file per change; never edit one that has shipped.
import type { Migration } from "kysely";
import * as m001 from "./001_runs.js";

export const migrations: Record<string, Migration> = {
  "001_runs": m001,
};
