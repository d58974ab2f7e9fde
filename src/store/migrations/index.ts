// Migrations in order, for both engines. Add a file per change; never change what one that has
// shipped does on SQLite (test/store/migrations.test.ts compares the schema it makes). Several
// gateways may run two versions during a rolling upgrade: a migration only adds (expand); what no
// version in use reads any more is removed by a later release (contract).
import type { Migration } from "kysely";
import * as m001 from "./001_runs.js";
import * as m002 from "./002_secrets.js";
import * as m003 from "./003_audit.js";
import * as m004 from "./004_events.js";
import * as m005 from "./005_outbox.js";
import * as m006 from "./006_approvals.js";
import * as m007 from "./007_sessions.js";
import * as m008 from "./008_gateway_runs.js";
import * as m009 from "./009_check_run_status.js";
import * as m010 from "./010_request_interruptions.js";
import * as m011 from "./011_job_notes.js";
import * as m012 from "./012_oidc_keys.js";
import * as m013 from "./013_job_egress.js";
import * as m014 from "./014_store_probe.js";
import * as m015 from "./015_approval_waits.js";
import * as m016 from "./016_leases.js";
import * as m017 from "./017_pauses.js";
import * as m018 from "./018_request_stops.js";
import * as m019 from "./019_events_claim_order.js";
import * as m020 from "./020_job_slots.js";
import * as m021 from "./021_outbox_write_until.js";

export const migrations: Record<string, Migration> = {
  "001_runs": m001,
  "002_secrets": m002,
  "003_audit": m003,
  "004_events": m004,
  "005_outbox": m005,
  "006_approvals": m006,
  "007_sessions": m007,
  "008_gateway_runs": m008,
  "009_check_run_status": m009,
  "010_request_interruptions": m010,
  "011_job_notes": m011,
  "012_oidc_keys": m012,
  "013_job_egress": m013,
  "014_store_probe": m014,
  "015_approval_waits": m015,
  "016_leases": m016,
  "017_pauses": m017,
  "018_request_stops": m018,
  "019_events_claim_order": m019,
  "020_job_slots": m020,
  "021_outbox_write_until": m021,
};
