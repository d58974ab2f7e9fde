// The restricted side of an `airlock run` (the companion suite), with its problems turned into
// one-line user errors.
import type { SecretsService } from "../secrets/grants.js";
import {
  prepareRestrictedSide as prepare,
  type RestrictedSide,
  RestrictedSideError,
  type RestrictedSideOptions,
} from "../suite/restricted-side.js";
import { UserError } from "./errors.js";

export type { RestrictedSide };

export type CliRestrictedSideOptions = Omit<RestrictedSideOptions, "grantSet"> & {
  secrets: Pick<SecretsService, "grantSet">;
};

export async function prepareRestrictedSide(o: CliRestrictedSideOptions): Promise<RestrictedSide> {
  const { secrets, ...rest } = o;
  try {
    return await prepare({ ...rest, grantSet: (set, ctx) => secrets.grantSet(set, ctx) });
  } catch (e) {
    if (e instanceof RestrictedSideError) throw new UserError(e.message);
    throw e;
  }
}
